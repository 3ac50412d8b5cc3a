#include <pecbatch/campaign/evidence_zip.hpp>

#include <pecbatch/campaign/evidence.hpp>
#include <pecbatch/campaign/lock.hpp>
#include <pecbatch/campaign/send.hpp>
#include <pecbatch/core/file.hpp>
#include <pecbatch/core/hash.hpp>
#include <pecbatch/core/strings.hpp>
#include <pecbatch/journal/journal.hpp>

#include <nlohmann/json.hpp>
#include <zip.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

namespace pecbatch::campaign {

using core::ErrorKind;
using core::make_error;

namespace {

// One member of the zip: a file of the archive (read by libzip when the
// zip is written) or bytes held here (README.txt, SHA256SUMS, manifests
// already read to be checked).
struct Member {
  std::string name;            // inside the zip, under the top folder
  std::filesystem::path file;  // empty: `data`
  std::string data;
  std::string sha256;          // what the member must hold
  std::uint64_t size = 0;
};

std::string iso_utc(core::TimePoint t) {
  const long long ms = core::to_unix_ms(t);
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

core::Error zip_error(const std::filesystem::path& path, const std::string& what) {
  return make_error(ErrorKind::io, path.string() + ": " + what);
}

std::string libzip_code_text(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

// A relative path from a manifest that stays inside its directory.
bool is_plain_relative(const std::string& path) {
  if (path.empty() || path.front() == '/') {
    return false;
  }
  for (const auto& part : core::split(path, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return false;
    }
  }
  return true;
}

// Adds a file of the archive, checking it against its manifest entry.
core::Status add_file(std::vector<Member>& members, const std::string& name,
                      const std::filesystem::path& file, const std::string& expected_sha256) {
  PB_TRY_ASSIGN(const auto hash, core::sha256_file_hex(file));
  if (hash != expected_sha256) {
    return make_error(ErrorKind::io, file.string() +
                                         ": its SHA-256 differs from its manifest's (changed "
                                         "after the manifest was written?)");
  }
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) {
    return make_error(ErrorKind::io, file.string() + ": " + ec.message());
  }
  members.push_back(Member{name, file, {}, hash, static_cast<std::uint64_t>(size)});
  return core::Ok{};
}

void add_data(std::vector<Member>& members, const std::string& name, std::string data) {
  Member m;
  m.name = name;
  m.sha256 = core::sha256_hex(data);
  m.size = data.size();
  m.data = std::move(data);
  members.push_back(std::move(m));
}

// Writes every member into a new zip at `path` (libzip writes a temporary
// file next to it and renames it at zip_close).
core::Status write_zip(const std::filesystem::path& path, const std::vector<Member>& members,
                       const std::string& top, std::time_t now) {
  int code = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (za == nullptr) {
    return zip_error(path, libzip_code_text(code));
  }
  auto fail = [&](const std::string& what) {
    std::string text = what + ": " + zip_strerror(za);
    zip_discard(za);
    return zip_error(path, text);
  };
  for (const Member& m : members) {
    zip_source_t* source =
        m.file.empty() ? zip_source_buffer(za, m.data.data(), m.data.size(), 0)
                       : zip_source_file(za, m.file.c_str(), 0, -1);
    if (source == nullptr) {
      return fail(m.file.empty() ? m.name : m.file.string());
    }
    const std::string name = top + m.name;
    const zip_int64_t index = zip_file_add(za, name.c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      return fail(name);
    }
    const auto i = static_cast<zip_uint64_t>(index);
    if (zip_set_file_compression(za, i, ZIP_CM_DEFLATE, 0) != 0) {
      return fail(name);
    }
    if (m.file.empty() && zip_file_set_mtime(za, i, now, 0) != 0) {
      return fail(name);
    }
  }
  if (zip_close(za) != 0) {
    return fail("writing");
  }
  return core::Ok{};
}

// Reads every member of the zip at `path` back and compares it with what
// it must hold: the same names, the same bytes (SHA-256).
core::Status verify_zip(const std::filesystem::path& path, const std::vector<Member>& members,
                        const std::string& top) {
  std::map<std::string, const Member*> expected;
  for (const Member& m : members) {
    expected.emplace(top + m.name, &m);
  }
  int code = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (za == nullptr) {
    return zip_error(path, "reading it back: " + libzip_code_text(code));
  }
  std::unique_ptr<zip_t, void (*)(zip_t*)> guard(za, [](zip_t* z) { zip_discard(z); });
  const zip_int64_t count = zip_get_num_entries(za, 0);
  if (count < 0 || static_cast<std::size_t>(count) != members.size()) {
    return zip_error(path, "reading it back: wrong number of members");
  }
  std::vector<char> buffer(1 << 16);
  for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(count); ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, i, 0, &st) != 0 || (st.valid & ZIP_STAT_NAME) == 0) {
      return zip_error(path, std::string("reading it back: ") + zip_strerror(za));
    }
    const auto it = expected.find(st.name);
    if (it == expected.end()) {
      return zip_error(path, std::string("reading it back: unexpected member ") + st.name);
    }
    zip_file_t* file = zip_fopen_index(za, i, 0);
    if (file == nullptr) {
      return zip_error(path, std::string("reading back ") + st.name + ": " + zip_strerror(za));
    }
    core::Sha256 hasher;
    std::uint64_t size = 0;
    for (;;) {
      const zip_int64_t n = zip_fread(file, buffer.data(), buffer.size());
      if (n < 0) {
        std::string text = zip_file_strerror(file);
        zip_fclose(file);
        return zip_error(path, std::string("reading back ") + st.name + ": " + text);
      }
      if (n == 0) {
        break;
      }
      hasher.update(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
      size += static_cast<std::uint64_t>(n);
    }
    zip_fclose(file);
    if (hasher.finish_hex() != it->second->sha256 || size != it->second->size) {
      return zip_error(path, std::string("reading it back: ") + st.name +
                                 " differs from the archive's file");
    }
    expected.erase(it);
  }
  return core::Ok{};
}

core::Status fsync_path(const std::filesystem::path& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) {
    return make_error(ErrorKind::io, path.string() + ": " + std::strerror(errno));
  }
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (rc != 0) {
    return make_error(ErrorKind::io, path.string() + ": fsync: " + std::strerror(saved));
  }
  return core::Ok{};
}

std::string readme(const config::Campaign& campaign, const EvidenceZipOptions& options,
                   const std::vector<EvidenceZipRow>& rows,
                   const std::map<std::string, std::string>& links, core::TimePoint now) {
  std::string out;
  out.append("Evidence of the PEC campaign ").append(core::quote(campaign.id)).append("\n");
  out.append("Exported by ").append(options.producer).append(" at ").append(iso_utc(now));
  out.append(" from ").append((campaign.output_dir / "evidence").string()).append("\n\n");
  out.append(
      "Every file under evidence/ is a byte-for-byte copy of the campaign's evidence\n"
      "archive. For each message (one per attempt: a row sent again has a new\n"
      "Message-ID and its own directory):\n"
      "  evidence/<Message-ID>/sent.eml         the exact bytes submitted to the provider\n"
      "  evidence/<Message-ID>/receipts/*.eml   each receipt exactly as found in the mailbox\n"
      "                                         (<uidvalidity>-<uid>-<kind>.eml)\n"
      "  evidence/<Message-ID>/daticert-*.xml   the daticert.xml of each receipt\n"
      "  evidence/<Message-ID>/manifest.json    the row, its state history, and the SHA-256\n"
      "                                         and size of every file above\n"
      "  evidence/manifest.json                 every row manifest of the campaign with its\n"
      "                                         SHA-256 (also rows not in this export)\n"
      "SHA256SUMS lists every other file of this export; check them with\n"
      "  sha256sum -c SHA256SUMS\n"
      "The receipts are signed by the provider (S/MIME); their signature can be\n"
      "checked on the .eml files themselves, e.g. with 'pecbatch receipt inspect'.\n\n");
  out.append("Messages (row = line of the contacts file; manifest = SHA-256 of manifest.json):\n\n");
  for (const auto& row : rows) {
    out.append("row ").append(std::to_string(row.row)).append("  ").append(row.address);
    out.append("\n  Message-ID  ").append(row.message_id);
    out.append("\n  attempt     ").append(std::to_string(row.generation));
    out.append("\n  state       ").append(row.state);
    if (const auto link = links.find(row.message_id); link != links.end()) {
      out.append("\n  ").append(link->second);
    }
    if (row.manifest_sha256.empty()) {
      out.append("\n  evidence    none (nothing of this message was submitted)");
    } else {
      out.append("\n  files       ").append(std::to_string(row.files));
      out.append("\n  manifest    ").append(row.manifest_sha256);
    }
    out.append("\n\n");
  }
  return out;
}

} // namespace

core::Result<EvidenceZipReport> export_evidence_zip(const config::Campaign& campaign,
                                                    const EvidenceZipOptions& options,
                                                    core::Clock& clock) {
  const auto journal_file = journal_path(campaign);
  std::error_code ec;
  if (!std::filesystem::exists(journal_file, ec)) {
    return make_error(ErrorKind::config, "campaign " + core::quote(campaign.id) +
                                             " has no journal yet (" + journal_file.string() +
                                             "): nothing was sent");
  }
  const auto out = std::filesystem::absolute(options.out, ec);
  if (ec || out.filename().empty()) {
    return make_error(ErrorKind::config, "--zip: " + options.out.string() + " is not a file name");
  }
  if (!std::filesystem::is_directory(out.parent_path(), ec)) {
    return make_error(ErrorKind::io, out.parent_path().string() + ": no such directory");
  }
  if (std::filesystem::is_directory(out, ec)) {
    return make_error(ErrorKind::config, "--zip: " + out.string() + " is a directory");
  }

  PB_TRY_ASSIGN(auto lock, CampaignLock::acquire(campaign.output_dir));
  PB_TRY_ASSIGN(auto journal, journal::Journal::open(journal_file, campaign.id));
  std::unique_ptr<receipts::SignatureVerifier> own_verifier;
  const receipts::SignatureVerifier* verifier = options.verifier;
  if (verifier == nullptr) {
    receipts::TrustOptions trust;
    if (campaign.account.ca_file) {
      trust.ca_files.push_back(*campaign.account.ca_file);
    }
    PB_TRY_ASSIGN(own_verifier, receipts::make_openssl_verifier(trust));
    verifier = own_verifier.get();
  }

  // 1. The attempts of the chosen rows, and what links them.
  std::vector<journal::RowRecord> attempts;
  PB_TRY(journal.for_each({}, [&](const journal::RowRecord& row) {
    if (options.rows.contains(row.row)) {
      attempts.push_back(row);
    }
    return true;
  }));
  std::map<std::string, std::string> links;  // Message-ID -> "retry of ..." line
  for (const auto& row : attempts) {
    std::string line;
    if (row.retry_of) {
      PB_TRY_ASSIGN(const auto previous, journal.get(*row.retry_of));
      line.append("retry of   ").append(previous.message_id);
    }
    if (row.superseded_by) {
      PB_TRY_ASSIGN(const auto next, journal.get(*row.superseded_by));
      if (!line.empty()) {
        line.append("\n  ");
      }
      line.append("sent again ").append(next.message_id);
    }
    if (!line.empty()) {
      links.emplace(row.message_id, std::move(line));
    }
  }

  // 2. Manifests brought up to date, so that they list every file as it
  // is now.
  std::map<std::int64_t, std::string> fresh;
  for (const auto& row : attempts) {
    if (std::filesystem::is_directory(evidence_dir(campaign, row.message_id), ec)) {
      PB_TRY_ASSIGN(auto hash, write_row_evidence(campaign, journal, row, *verifier));
      fresh.emplace(row.id, std::move(hash));
    }
  }
  if (fresh.empty()) {
    return make_error(ErrorKind::no_input,
                      "no evidence for the chosen rows: none of their messages was submitted");
  }
  PB_TRY(write_campaign_manifest(campaign, journal, fresh, *verifier));

  // 3. The members, each checked against its manifest.
  EvidenceZipReport report;
  std::vector<Member> members;
  const std::string top = campaign.id + "-evidence/";
  for (const auto& row : attempts) {
    EvidenceZipRow listed;
    listed.row = row.row;
    listed.address = row.address;
    listed.message_id = row.message_id;
    listed.state = journal::to_string(row.state);
    listed.generation = row.generation;
    const auto hash = fresh.find(row.id);
    if (hash == fresh.end()) {
      report.rows.push_back(std::move(listed));
      continue;
    }
    const auto dir = evidence_dir(campaign, row.message_id);
    PB_TRY_ASSIGN(std::string manifest_text, core::read_file(dir / "manifest.json"));
    if (core::sha256_hex(manifest_text) != hash->second) {
      return make_error(ErrorKind::io, (dir / "manifest.json").string() +
                                           ": changed while the export was being made");
    }
    const auto manifest = nlohmann::json::parse(manifest_text, nullptr, false);
    if (manifest.is_discarded() || !manifest.contains("files") ||
        !manifest["files"].is_array()) {
      return make_error(ErrorKind::io, (dir / "manifest.json").string() + ": unreadable");
    }
    const std::string base = "evidence/" + row.message_id + "/";
    for (const auto& entry : manifest["files"]) {
      const auto path = entry.value("path", std::string());
      if (!is_plain_relative(path)) {
        return make_error(ErrorKind::io, (dir / "manifest.json").string() +
                                             ": a file path leaves its directory: " + path);
      }
      PB_TRY(add_file(members, base + path, dir / path, entry.value("sha256", std::string())));
      ++listed.files;
    }
    add_data(members, base + "manifest.json", std::move(manifest_text));
    listed.manifest_sha256 = hash->second;
    report.rows.push_back(std::move(listed));
    ++report.with_evidence;
  }
  {
    PB_TRY_ASSIGN(std::string text, core::read_file(campaign_manifest_path(campaign)));
    add_data(members, "evidence/manifest.json", std::move(text));
  }
  const auto now = clock.now();
  std::vector<Member> all;
  all.reserve(members.size() + 2);
  add_data(all, "SHA256SUMS", {});
  add_data(all, "README.txt", readme(campaign, options, report.rows, links, now));
  for (auto& m : members) {
    all.push_back(std::move(m));
  }
  // Every other member, for `sha256sum -c SHA256SUMS`.
  std::string sums;
  for (std::size_t i = 1; i < all.size(); ++i) {
    sums.append(all[i].sha256).append("  ").append(all[i].name).append("\n");
  }
  all[0].sha256 = core::sha256_hex(sums);
  all[0].size = sums.size();
  all[0].data = std::move(sums);

  // 4. Written next to `out`, read back, made durable, renamed.
  const auto tmp = out.parent_path() /
                   ("." + out.filename().string() + ".tmp-" + std::to_string(::getpid()));
  const std::time_t now_seconds = static_cast<std::time_t>(core::to_unix_ms(now) / 1000);
  auto written = write_zip(tmp, all, top, now_seconds);
  if (written.ok()) {
    written = verify_zip(tmp, all, top);
  }
  if (written.ok()) {
    written = fsync_path(tmp, false);
  }
  if (written.ok()) {
    std::filesystem::rename(tmp, out, ec);
    if (ec) {
      written = make_error(ErrorKind::io, out.string() + ": " + ec.message());
    }
  }
  if (!written.ok()) {
    std::filesystem::remove(tmp, ec);
    return std::move(written).error();
  }
  PB_TRY(fsync_path(out.parent_path(), true));

  report.entries = all.size();
  for (const auto& m : all) {
    report.bytes += m.size;
  }
  report.zip_size = static_cast<std::uint64_t>(std::filesystem::file_size(out, ec));
  PB_TRY_ASSIGN(report.zip_sha256, core::sha256_file_hex(out));
  return report;
}

} // namespace pecbatch::campaign
