#pragma once

#include <pecbatch/campaign/send.hpp>
#include <pecbatch/config/campaign.hpp>

#include <string>

// The send step shared by `pecbatch send` and `pecbatch run`.
namespace pecbatch::cli {

struct SendOutcome {
  int exit_code = 0;  // what `pecbatch send` exits with
  // true: nothing more may happen in this invocation (only the plan was
  // shown, invalid data, changed inputs, authentication or TLS failure,
  // interrupted); false: the run went through (some rows may have failed).
  bool final = false;
};

// Sends the campaign as `pecbatch send` does (live progress, one log record
// per attempt, --trace on stderr), prints the plan or the run's summary,
// and says how it ended. `password` is used only when sending.
SendOutcome send_and_report(const config::Campaign& campaign,
                            const campaign::SendOptions& send, const std::string& password,
                            bool quiet, bool trace);

} // namespace pecbatch::cli
