#pragma once

#include <pecbatch/core/result.hpp>

#include <filesystem>

namespace pecbatch::campaign {

// An exclusive lock on a campaign's output directory (flock on
// `<dir>/lock`), held while the object lives. Two runs of one campaign
// never overlap; the lock is released by the kernel if the process dies,
// even with kill -9, so a crash never leaves a stale lock.
class CampaignLock {
public:
  // Takes the lock without waiting. Fails with kind `transient` ("locked")
  // when another process holds it, naming that process if known; `io` when
  // the lock file cannot be created.
  static core::Result<CampaignLock> acquire(const std::filesystem::path& dir);

  CampaignLock(CampaignLock&& other) noexcept;
  CampaignLock& operator=(CampaignLock&& other) noexcept;
  CampaignLock(const CampaignLock&) = delete;
  CampaignLock& operator=(const CampaignLock&) = delete;
  ~CampaignLock();

private:
  explicit CampaignLock(int fd) : m_fd(fd) {}
  int m_fd = -1;
};

} // namespace pecbatch::campaign
