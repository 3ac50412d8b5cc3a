#include <pecbatch/campaign/render.hpp>

#include <pecbatch/core/file.hpp>
#include <pecbatch/core/hash.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace pecbatch::campaign {

using core::ErrorKind;
using core::make_error;

namespace {

// A file name for a recipient's message: row number, then the address with
// anything unusual replaced, so that every name is safe and sorts by row.
std::string eml_name(std::uint64_t row, const std::string& address) {
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "%06llu-", static_cast<unsigned long long>(row));
  std::string name = prefix;
  for (char c : address) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '@' || c == '-' ||
                      c == '_' || c == '+';
    name += safe ? c : '_';
  }
  return name + ".eml";
}

} // namespace

core::Result<RenderResult> render_campaign(const config::Campaign& campaign,
                                           const RenderOptions& options) {
  RenderResult result;
  const std::time_t date = options.date != 0 ? options.date : std::time(nullptr);

  // First pass: nothing is written unless every row is valid.
  ValidateOptions check;
  check.rows = options.rows;
  check.date = date;
  PB_TRY_ASSIGN(result.report, validate_campaign(campaign, check));
  if (!result.report.errors.empty()) {
    return result;
  }

  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) {
    return make_error(ErrorKind::io, options.out_dir.string() +
                                         ": cannot create directory: " + ec.message());
  }

  std::string index = "row,address,message_id,file,size,sha256\r\n";
  ValidateOptions write;
  write.rows = options.rows;
  write.date = date;
  write.sink = [&](const contacts::Contact& contact, const compose::MessageSpec& spec,
                   const std::string& bytes) -> core::Status {
    const std::string name = eml_name(contact.row, contact.address);
    const auto path = options.out_dir / name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      return make_error(ErrorKind::io,
                        path.string() + ": cannot write: " + std::strerror(errno));
    }
    // Addresses and Message-IDs never contain commas, quotes or line breaks
    // (validated), so the fields need no quoting.
    index += std::to_string(contact.row) + "," + contact.address + "," +
             spec.message_id + "," + name + "," + std::to_string(bytes.size()) + "," +
             core::sha256_hex(bytes) + "\r\n";
    ++result.written;
    return core::Ok{};
  };
  PB_TRY_ASSIGN(result.report, validate_campaign(campaign, write));
  PB_TRY(core::write_file_atomic(options.out_dir / "index.csv", index));
  return result;
}

} // namespace pecbatch::campaign
