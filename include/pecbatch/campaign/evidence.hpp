#pragma once

#include <pecbatch/config/campaign.hpp>
#include <pecbatch/core/result.hpp>
#include <pecbatch/journal/journal.hpp>
#include <pecbatch/receipts/signature.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

// The evidence archive's manifests (docs/polling.md, "Evidence archive"):
// per row, the daticert.xml of each receipt and a manifest.json with the
// row's state history and the SHA-256 of every file; per campaign, a
// manifest.json listing every row manifest with its SHA-256.
namespace pecbatch::campaign {

// <output_dir>/evidence/<Message-ID>/manifest.json
std::filesystem::path row_manifest_path(const config::Campaign& campaign,
                                        const std::string& message_id);
// <output_dir>/evidence/manifest.json
std::filesystem::path campaign_manifest_path(const config::Campaign& campaign);

// Writes the evidence of one row: the daticert.xml of each archived receipt
// (`daticert-<uidvalidity>-<uid>-<kind>.xml`, written only when missing or
// different) and then manifest.json (atomically). Receipts are re-read from
// their archived files and verified with `verifier` for the signer facts;
// their kind, facts and signature status come from the journal. Returns
// the SHA-256 of the manifest written. Fails with `io` on file errors.
core::Result<std::string> write_row_evidence(const config::Campaign& campaign,
                                             journal::Journal& journal,
                                             const journal::RowRecord& row,
                                             const receipts::SignatureVerifier& verifier);

// Rewrites the campaign manifest atomically, streaming over the journal's
// rows: a row listed in `fresh` (journal id -> SHA-256 of the manifest just
// written) uses that hash; another row's manifest is hashed from its file,
// or written first (write_row_evidence) when the row has an evidence
// directory but no manifest yet. Rows without evidence are not listed.
core::Status write_campaign_manifest(const config::Campaign& campaign,
                                     journal::Journal& journal,
                                     const std::map<std::int64_t, std::string>& fresh,
                                     const receipts::SignatureVerifier& verifier);

} // namespace pecbatch::campaign
