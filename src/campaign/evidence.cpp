#include <pecbatch/campaign/evidence.hpp>

#include <pecbatch/campaign/send.hpp>
#include <pecbatch/core/file.hpp>
#include <pecbatch/core/hash.hpp>
#include <pecbatch/receipts/message.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <optional>
#include <system_error>
#include <vector>

namespace pecbatch::campaign {

using core::ErrorKind;
using core::make_error;
using nlohmann::ordered_json;

namespace {

constexpr const char* k_manifest = "manifest.json";

// "2026-11-22T12:56:41.123Z"
std::string iso_utc(core::TimePoint t) {
  const long long ms = core::to_unix_ms(t);
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03dZ", static_cast<int>(ms % 1000));
  return std::string(buffer) + millis;
}

ordered_json optional_text(const std::optional<std::string>& value) {
  return value ? ordered_json(*value) : ordered_json(nullptr);
}

// Writes `data` to `path` unless the file already holds exactly it.
core::Status write_if_changed(const std::filesystem::path& path, const std::string& data) {
  auto existing = core::read_file(path);
  if (existing.ok() && *existing == data) {
    return core::Ok{};
  }
  return core::write_file_atomic(path, data);
}

// Every regular file under `dir` except the manifest and temporary files,
// as generic paths relative to `dir`, sorted.
core::Result<std::vector<std::string>> list_files(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(dir, ec);
  if (ec) {
    return make_error(ErrorKind::io, dir.string() + ": " + ec.message());
  }
  for (const std::filesystem::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) {
      return make_error(ErrorKind::io, dir.string() + ": " + ec.message());
    }
    if (!it->is_regular_file(ec)) {
      continue;
    }
    const std::string relative = it->path().lexically_relative(dir).generic_string();
    const std::string name = it->path().filename().string();
    const bool wanted = name == "sent.eml" ||
                        (relative.starts_with("receipts/") && name.ends_with(".eml")) ||
                        (name.starts_with("daticert-") && name.ends_with(".xml"));
    if (wanted && relative.find('/') == relative.rfind('/')) {
      out.push_back(relative);
    }
  }
  if (ec) {
    return make_error(ErrorKind::io, dir.string() + ": " + ec.message());
  }
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

std::filesystem::path row_manifest_path(const config::Campaign& campaign,
                                        const std::string& message_id) {
  return evidence_dir(campaign, message_id) / k_manifest;
}

std::filesystem::path campaign_manifest_path(const config::Campaign& campaign) {
  return campaign.output_dir / "evidence" / k_manifest;
}

core::Result<std::string> write_row_evidence(const config::Campaign& campaign,
                                             journal::Journal& journal,
                                             const journal::RowRecord& row,
                                             const receipts::SignatureVerifier& verifier) {
  const auto dir = evidence_dir(campaign, row.message_id);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return make_error(ErrorKind::io, dir.string() + ": " + ec.message());
  }

  // The receipts recorded for this row, by archived file (relative to dir).
  PB_TRY_ASSIGN(const auto records, journal.receipts_for(row.message_id));
  std::map<std::string, ordered_json> receipt_facts;
  std::map<std::string, std::string> daticert_of;  // daticert file -> receipt file
  for (const auto& record : records) {
    if (record.row_id && *record.row_id != row.id) {
      continue;
    }
    const auto file = campaign.output_dir / record.file;
    const std::string relative = file.lexically_relative(dir).generic_string();
    if (!relative.starts_with("receipts/")) {
      continue;
    }
    ordered_json facts;
    facts["kind"] = record.kind;
    facts["identificativo"] = record.identificativo;
    facts["consegna"] = record.consegna;
    facts["errore"] = record.errore;
    facts["errore_esteso"] = record.errore_esteso;
    facts["time"] = record.time;
    ordered_json signature;
    signature["status"] = record.signature;
    signature["signer"] = nullptr;
    signature["issuer"] = nullptr;
    signature["signing_time"] = nullptr;
    auto bytes = core::read_file(file);
    if (bytes.ok()) {
      auto parsed = receipts::parse_message(std::move(*bytes));
      if (parsed.ok()) {
        const auto report = verifier.verify(*parsed);
        signature["signer"] = optional_text(report.signer_email);
        signature["issuer"] = optional_text(report.issuer);
        signature["signing_time"] = optional_text(report.signing_time);
        if (parsed->daticert && !parsed->daticert->xml.empty()) {
          const std::string name =
              "daticert-" + file.stem().string() + ".xml";  // <uidvalidity>-<uid>-<kind>
          PB_TRY(write_if_changed(dir / name, parsed->daticert->xml));
          daticert_of[name] = relative;
        }
      }
    }
    facts["signature"] = std::move(signature);
    receipt_facts[relative] = std::move(facts);
  }

  ordered_json manifest;
  manifest["row"] = row.row;
  manifest["address"] = row.address;
  manifest["message_id"] = row.message_id;
  manifest["state"] = journal::to_string(row.state);
  ordered_json history = ordered_json::array();
  PB_TRY_ASSIGN(const auto events, journal.events(row.id));
  for (const auto& event : events) {
    ordered_json e;
    e["time"] = iso_utc(event.at);
    e["from"] = event.from ? ordered_json(journal::to_string(*event.from))
                           : ordered_json(nullptr);
    e["to"] = journal::to_string(event.to);
    e["detail"] = event.detail;
    history.push_back(std::move(e));
  }
  manifest["history"] = std::move(history);

  ordered_json files = ordered_json::array();
  PB_TRY_ASSIGN(const auto names, list_files(dir));
  for (const auto& name : names) {
    const auto path = dir / name;
    PB_TRY_ASSIGN(const auto hash, core::sha256_file_hex(path));
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) {
      return make_error(ErrorKind::io, path.string() + ": " + ec.message());
    }
    ordered_json f;
    f["path"] = name;
    f["sha256"] = hash;
    f["size"] = static_cast<std::uint64_t>(size);
    if (const auto facts = receipt_facts.find(name); facts != receipt_facts.end()) {
      f["receipt"] = facts->second;
    } else if (const auto of = daticert_of.find(name); of != daticert_of.end()) {
      f["daticert_of"] = of->second;
    }
    files.push_back(std::move(f));
  }
  manifest["files"] = std::move(files);

  const std::string text = manifest.dump(2) + "\n";
  PB_TRY(core::write_file_atomic(dir / k_manifest, text));
  return core::sha256_hex(text);
}

core::Status write_campaign_manifest(const config::Campaign& campaign,
                                     journal::Journal& journal,
                                     const std::map<std::int64_t, std::string>& fresh,
                                     const receipts::SignatureVerifier& verifier) {
  ordered_json rows = ordered_json::array();
  std::optional<core::Error> failure;
  PB_TRY(journal.for_each({}, [&](const journal::RowRecord& row) {
    std::string hash;
    if (const auto known = fresh.find(row.id); known != fresh.end()) {
      hash = known->second;
    } else {
      const auto path = row_manifest_path(campaign, row.message_id);
      std::error_code ec;
      if (std::filesystem::exists(path, ec)) {
        auto hashed = core::sha256_file_hex(path);
        if (!hashed.ok()) {
          failure = hashed.error();
          return false;
        }
        hash = std::move(*hashed);
      } else if (std::filesystem::is_directory(evidence_dir(campaign, row.message_id), ec)) {
        auto written = write_row_evidence(campaign, journal, row, verifier);
        if (!written.ok()) {
          failure = written.error();
          return false;
        }
        hash = std::move(*written);
      } else {
        return true;  // nothing archived for this row
      }
    }
    ordered_json entry;
    entry["row"] = row.row;
    entry["message_id"] = row.message_id;
    entry["manifest"] = row_manifest_path(campaign, row.message_id)
                            .lexically_relative(campaign.output_dir / "evidence")
                            .generic_string();
    entry["sha256"] = hash;
    rows.push_back(std::move(entry));
    return true;
  }));
  if (failure) {
    return *failure;
  }
  ordered_json manifest;
  manifest["campaign"] = campaign.id;
  manifest["rows"] = std::move(rows);
  const auto path = campaign_manifest_path(campaign);
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    return make_error(ErrorKind::io, path.parent_path().string() + ": " + ec.message());
  }
  return core::write_file_atomic(path, manifest.dump(2) + "\n");
}

} // namespace pecbatch::campaign
