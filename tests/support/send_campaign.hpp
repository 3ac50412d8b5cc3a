#pragma once

#include <pecbatch/campaign/validate.hpp>
#include <pecbatch/compose/message.hpp>
#include <pecbatch/config/campaign.hpp>

#include <map>
#include <string>

namespace pecbatch::test {

// The campaign file of the send unit tests (campaign "c1", output in out/,
// contacts.csv and body.txt beside it, no rate limit, one connection), with
// `max_attempts` attempts per row and run.
inline std::string send_test_campaign_toml(unsigned max_attempts) {
  std::string toml = R"(
[campaign]
id = "c1"
output_dir = "out"
[account]
address = "mittente@pec.test"
username = "mittente@pec.test"
password_env = "UNUSED"
smtp_host = "127.0.0.1"
[provider]
profile = "custom"
rate_per_minute = 0
[send]
concurrency = 1
max_attempts = )";
  toml.append(std::to_string(max_attempts));
  toml.append(R"(
[contacts]
file = "contacts.csv"
[message]
subject = "Avviso"
text_template = "body.txt"
)");
  return toml;
}

// The message each valid row of `campaign` would get (its first
// generation), by recipient address: what a send plans, composed the same way.
inline std::map<std::string, compose::MessageSpec>
planned_specs(const config::Campaign& campaign) {
  std::map<std::string, compose::MessageSpec> out;
  campaign::ValidateOptions options;
  options.date = 1;
  options.sink = [&](const contacts::Contact& contact, const compose::MessageSpec& spec,
                     const std::string&) -> core::Status {
    out.emplace(contact.address, spec);
    return core::Ok{};
  };
  (void)campaign::validate_campaign(campaign, options).value_or_throw();
  return out;
}

} // namespace pecbatch::test
