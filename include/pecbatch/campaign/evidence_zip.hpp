#pragma once

#include <pecbatch/campaign/rows.hpp>
#include <pecbatch/config/campaign.hpp>
#include <pecbatch/core/clock.hpp>
#include <pecbatch/core/result.hpp>
#include <pecbatch/receipts/signature.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

// `pecbatch evidence CAMPAIGN --zip OUT`: the evidence archive of chosen
// rows in one zip file, for a lawyer or an archive (docs/evidence.md).
namespace pecbatch::campaign {

struct EvidenceZipOptions {
  std::filesystem::path out;  // the zip file to write (replaced atomically)
  RowSet rows;                // contacts rows; every attempt of each is included
  // "pecbatch 0.3.0", written in README.txt.
  std::string producer = "pecbatch";
  // Verifies receipts again for the row manifests' signer facts; when
  // null, the OpenSSL verifier trusting the system CAs plus
  // account.ca_file is used (as `poll` does).
  const receipts::SignatureVerifier* verifier = nullptr;
};

// One attempt (journal row) in the zip, or left out for lack of evidence.
struct EvidenceZipRow {
  std::uint64_t row = 0;
  std::string address;
  std::string message_id;
  std::string state;
  unsigned generation = 1;
  std::uint64_t files = 0;        // evidence files of this attempt in the zip
  std::string manifest_sha256;    // "" when the attempt has no evidence
};

struct EvidenceZipReport {
  std::vector<EvidenceZipRow> rows;  // every attempt of the chosen rows
  std::uint64_t with_evidence = 0;   // attempts whose evidence is in the zip
  std::uint64_t entries = 0;         // zip members
  std::uint64_t bytes = 0;           // uncompressed bytes of the members
  std::uint64_t zip_size = 0;
  std::string zip_sha256;
};

// Writes the zip: for every attempt of the chosen rows that has an
// evidence directory, its manifest is brought up to date first
// (write_row_evidence: daticert.xml files, manifest.json), then the
// campaign manifest (write_campaign_manifest); the zip holds, under
// `<campaign id>-evidence/`, `evidence/<Message-ID>/` with every file the
// row manifest lists (sent.eml, receipts/*.eml, daticert-*.xml) and the
// manifest itself, `evidence/manifest.json`, a README.txt listing the
// attempts with their states and manifest SHA-256, and SHA256SUMS (for
// `sha256sum -c`). Members are the archive's files byte for byte
// (deflated); before the zip replaces `out` (a temporary file in the same
// directory, fsync'ed, renamed) every member is read back and its SHA-256
// compared with the manifests. Holds the campaign lock.
//
// Fails with `config` when the campaign has no journal, `no_input` when no
// chosen row has any evidence (nothing was submitted), `io` when a file
// differs from its manifest or cannot be read or written, `transient` when
// the campaign is locked by another run. `out` is never left half written.
core::Result<EvidenceZipReport> export_evidence_zip(const config::Campaign& campaign,
                                                    const EvidenceZipOptions& options,
                                                    core::Clock& clock);

} // namespace pecbatch::campaign
