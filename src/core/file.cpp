#include <pecbatch/core/file.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <sstream>
#include <unistd.h>

namespace pecbatch::core {

Result<std::string> read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return make_error(ErrorKind::no_input,
                      path.string() + ": is a directory, not a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorKind::no_input,
                      path.string() + ": cannot open: " + std::strerror(errno));
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) {
    return make_error(ErrorKind::io, path.string() + ": read error");
  }
  return out.str();
}

namespace {

// What write_file_atomic does with the temporary file's descriptor.
enum class Written { ok, unsupported, failed };

// Writes all of `data` to `fd`, retrying short writes.
Written write_all(int fd, std::string_view data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Written::failed;
    }
    done += static_cast<std::size_t>(n);
  }
  return Written::ok;
}

constexpr std::size_t k_direct_min = 1u << 20;   // smaller files: page cache
constexpr std::size_t k_direct_chunk = 1u << 20;
constexpr std::size_t k_direct_align = 4096;     // any block size up to a page

// Writes `data` to `fd` (opened with O_DIRECT) through an aligned buffer of
// this thread, reused from file to file; the last block is padded with
// zeros, cut off afterwards. `unsupported` when the file system refuses
// O_DIRECT writes (nothing was written then: the caller writes normally).
Written write_direct(int fd, std::string_view data) {
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<char, Free> buffer(
      static_cast<char*>(std::aligned_alloc(k_direct_align, k_direct_chunk)));
  if (!buffer) {
    return Written::unsupported;
  }
  std::size_t done = 0;
  while (done < data.size()) {
    const std::size_t n = std::min(k_direct_chunk, data.size() - done);
    const std::size_t padded = (n + k_direct_align - 1) / k_direct_align * k_direct_align;
    std::memcpy(buffer.get(), data.data() + done, n);
    std::memset(buffer.get() + n, 0, padded - n);
    std::size_t put = 0;
    while (put < padded) {
      const ssize_t w = ::write(fd, buffer.get() + put, padded - put);
      if (w < 0 && errno == EINTR) {
        continue;
      }
      if (w < 0 && errno == EINVAL && done == 0 && put == 0) {
        return Written::unsupported;
      }
      if (w <= 0 || static_cast<std::size_t>(w) % k_direct_align != 0) {
        if (w >= 0) {
          errno = EIO;  // a short write O_DIRECT cannot go on from
        }
        return Written::failed;
      }
      put += static_cast<std::size_t>(w);
    }
    done += n;
  }
  if (data.size() % k_direct_align != 0 &&
      ::ftruncate(fd, static_cast<off_t>(data.size())) != 0) {
    return Written::failed;
  }
  return Written::ok;
}

} // namespace

Status write_file_atomic(const std::filesystem::path& path,
                         std::string_view data, Flush flush) {
  const std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  int fd = -1;
  Written written = Written::unsupported;
  if (flush == Flush::later_uncached && data.size() >= k_direct_min) {
    fd = ::open(tmp.c_str(), flags | O_DIRECT, 0644);
    if (fd >= 0) {
      written = write_direct(fd, data);
      if (written == Written::unsupported) {
        ::close(fd);
        fd = -1;
      }
    }
  }
  if (written == Written::unsupported) {
    // O_DIRECT not asked for, refused at open (tmpfs) or at the first write.
    fd = ::open(tmp.c_str(), flags, 0644);
    if (fd < 0) {
      return make_error(ErrorKind::io,
                        tmp + ": cannot create: " + std::strerror(errno));
    }
    written = write_all(fd, data);
  }
  if (written != Written::ok) {
    const std::string reason = std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return make_error(ErrorKind::io, tmp + ": write failed: " + reason);
  }
  if ((flush == Flush::now && ::fsync(fd) != 0) || ::close(fd) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    return make_error(ErrorKind::io, tmp + ": cannot flush: " + reason);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    return make_error(ErrorKind::io,
                      path.string() + ": cannot rename into place: " + reason);
  }
  return Ok{};
}

Status sync_filesystem(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(ErrorKind::io, path.string() + ": cannot open: " + std::strerror(errno));
  }
  const int rc = ::syncfs(fd);
  const int saved = errno;
  ::close(fd);
  if (rc != 0) {
    return make_error(ErrorKind::io,
                      path.string() + ": cannot flush its file system: " + std::strerror(saved));
  }
  return Ok{};
}

} // namespace pecbatch::core
