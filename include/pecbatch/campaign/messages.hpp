#pragma once

#include <pecbatch/compose/message.hpp>
#include <pecbatch/compose/template.hpp>
#include <pecbatch/config/campaign.hpp>
#include <pecbatch/contacts/contacts.hpp>
#include <pecbatch/core/diagnostic.hpp>
#include <pecbatch/core/result.hpp>

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pecbatch::campaign {

// Turns contact rows into certified messages for one campaign: the
// templates are parsed once, shared attachments read and encoded once.
class MessageFactory {
public:
  // Loads the templates and the shared attachments. Fails with `config`
  // (template syntax, unreadable template or shared attachment), listing
  // every problem.
  static core::Result<MessageFactory> create(const config::Campaign& campaign);

  // Fields the templates use that are not among `columns`: one diagnostic
  // per use, naming the template file and line.
  core::Diagnostics check_fields(const std::vector<std::string>& columns) const;

  // Columns whose values reach a message header: those used by the subject
  // template, and the per-recipient attachment columns (file names).
  std::vector<std::string> header_columns() const;

  // Builds the message of `contact`, composed (`bytes`), or only checked
  // and measured when `with_bytes` is false (`bytes` empty: at 2 MB a
  // message's bytes cost more than the rest of its composition). Row
  // problems (a missing or escaping per-recipient attachment, a blocked
  // extension, a message over the provider's limits) are appended to
  // `problems` and nullopt returned.
  struct Built {
    compose::MessageSpec spec;
    std::string bytes;
    std::uint64_t size = 0;  // of the composed message, `bytes` or not
  };
  std::optional<Built> build(const contacts::Contact& contact, std::time_t date,
                             const std::string& contacts_file,
                             core::Diagnostics& problems, bool with_bytes = true);

  compose::AttachmentCache& attachment_cache() { return *m_cache; }

private:
  MessageFactory() = default;

  const config::Campaign* m_campaign = nullptr;
  std::string m_domain;
  // contacts.attachments_dir resolved once (per-recipient attachments must
  // stay inside it); empty when no attachment column is configured.
  std::filesystem::path m_attachments_base;
  std::optional<compose::Template> m_subject;
  std::optional<compose::Template> m_text;
  std::optional<compose::Template> m_html;
  std::vector<std::shared_ptr<const compose::EncodedAttachment>> m_shared;
  std::unique_ptr<compose::AttachmentCache> m_cache;
};

} // namespace pecbatch::campaign
