#pragma once

#include <pecbatch/campaign/rows.hpp>
#include <pecbatch/campaign/validate.hpp>
#include <pecbatch/config/campaign.hpp>
#include <pecbatch/core/result.hpp>

#include <cstdint>
#include <ctime>
#include <filesystem>

namespace pecbatch::campaign {

struct RenderOptions {
  std::filesystem::path out_dir;
  RowSet rows;
  std::time_t date = 0;  // 0 = now
};

struct RenderResult {
  ValidationReport report;
  std::uint64_t written = 0;
};

// Validates the campaign and, only when no row has a problem, writes one
// `.eml` per selected recipient (byte for byte what would be sent) and
// `index.csv` (row, address, message_id, file, size, sha256) into
// `out_dir`. With problems nothing is written and the report is returned
// with its errors. No network.
core::Result<RenderResult> render_campaign(const config::Campaign& campaign,
                                           const RenderOptions& options);

} // namespace pecbatch::campaign
