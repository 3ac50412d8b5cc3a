#include <pecbatch/campaign/lock.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <unistd.h>

namespace pecbatch::campaign {

core::Result<CampaignLock> CampaignLock::acquire(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return core::make_error(core::ErrorKind::io,
                            dir.string() + ": cannot create directory: " + ec.message());
  }
  const auto path = dir / "lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return core::make_error(core::ErrorKind::io,
                            path.string() + ": cannot open: " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    std::string holder;
    char buf[32] = {};
    if (::pread(fd, buf, sizeof buf - 1, 0) > 0) {
      holder = std::string(buf);
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) {
        holder.pop_back();
      }
    }
    ::close(fd);
    if (error == EWOULDBLOCK) {
      return core::make_error(
          core::ErrorKind::transient,
          "campaign is locked by another pecbatch run" +
              (holder.empty() ? std::string() : " (pid " + holder + ")") + " on " +
              path.string() + "; try again when it has finished");
    }
    return core::make_error(core::ErrorKind::io,
                            path.string() + ": cannot lock: " + std::strerror(error));
  }
  // Record who holds it, for the message the next contender prints.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    [[maybe_unused]] auto written = ::pwrite(fd, pid.data(), pid.size(), 0);
  }
  return CampaignLock(fd);
}

CampaignLock::CampaignLock(CampaignLock&& other) noexcept : m_fd(other.m_fd) {
  other.m_fd = -1;
}

CampaignLock& CampaignLock::operator=(CampaignLock&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = other.m_fd;
    other.m_fd = -1;
  }
  return *this;
}

CampaignLock::~CampaignLock() {
  if (m_fd >= 0) {
    ::close(m_fd);  // releases the flock
  }
}

} // namespace pecbatch::campaign
