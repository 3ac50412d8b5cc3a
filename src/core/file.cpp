#include <pecbatch/core/file.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
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

Status write_file_atomic(const std::filesystem::path& path,
                         std::string_view data, Flush flush) {
  const std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return make_error(ErrorKind::io,
                      tmp + ": cannot create: " + std::strerror(errno));
  }
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const std::string reason = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return make_error(ErrorKind::io, tmp + ": write failed: " + reason);
    }
    done += static_cast<std::size_t>(n);
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
