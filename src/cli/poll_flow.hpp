#pragma once

#include <pecbatch/campaign/poll.hpp>
#include <pecbatch/config/campaign.hpp>

#include <string>

// The poll step shared by `pecbatch poll` and `pecbatch run`.
namespace pecbatch::cli {

// Polls the campaign's mailbox as `pecbatch poll` does: progress per pass
// on stderr (unless `quiet`), notices as warnings, one log record per pass,
// --trace of the IMAP dialogue on stderr and in the log at debug level;
// SIGINT/SIGTERM stop it cleanly. Throws core::Fatal on errors.
campaign::PollReport poll_with_console(const config::Campaign& campaign,
                                       const campaign::PollOptions& poll,
                                       const std::string& password, bool quiet, bool trace);

} // namespace pecbatch::cli
