#include <pecbatch/campaign/messages.hpp>

#include <pecbatch/compose/preflight.hpp>
#include <pecbatch/core/address.hpp>
#include <pecbatch/core/file.hpp>
#include <pecbatch/core/strings.hpp>

#include <algorithm>
#include <map>

namespace pecbatch::campaign {

using core::Diagnostic;
using core::ErrorKind;
using core::make_error;

namespace {

core::Result<compose::Template> load_template(const std::filesystem::path& path,
                                              const char* key,
                                              compose::Escaping escaping) {
  auto text = core::read_file(path);
  if (!text.ok()) {
    return make_error(ErrorKind::config,
                      std::string(key) + ": " + std::move(text).error().message);
  }
  if (auto offset = core::find_invalid_utf8(*text)) {
    return make_error(ErrorKind::config, path.string() + ": invalid UTF-8 at byte " +
                                             std::to_string(*offset) +
                                             " (templates must be UTF-8)");
  }
  return compose::Template::parse(path.string(), std::move(text).value(), escaping);
}

// True when `path` is `base` or inside it (both already canonical).
bool is_within(const std::filesystem::path& base, const std::filesystem::path& path) {
  auto b = base.begin();
  auto p = path.begin();
  for (; b != base.end(); ++b, ++p) {
    if (p == path.end() || *b != *p) {
      return false;
    }
  }
  return true;
}

} // namespace

core::Result<MessageFactory> MessageFactory::create(const config::Campaign& campaign) {
  MessageFactory factory;
  factory.m_campaign = &campaign;
  factory.m_domain = std::string(core::mailbox_domain(campaign.account.address));
  factory.m_cache = std::make_unique<compose::AttachmentCache>();
  if (!campaign.contacts.attachment_columns.empty()) {
    std::error_code ec;
    factory.m_attachments_base =
        std::filesystem::weakly_canonical(campaign.contacts.attachments_dir, ec);
  }

  std::vector<std::string> problems;
  auto subject = compose::Template::parse(campaign.file.string() + ": message.subject",
                                          campaign.message.subject,
                                          compose::Escaping::none);
  if (subject.ok()) {
    factory.m_subject.emplace(std::move(subject).value());
  } else {
    problems.push_back(subject.error().message);
  }
  auto text = load_template(campaign.message.text_template, "message.text_template",
                            compose::Escaping::none);
  if (text.ok()) {
    factory.m_text.emplace(std::move(text).value());
  } else {
    problems.push_back(text.error().message);
  }
  if (campaign.message.html_template) {
    auto html = load_template(*campaign.message.html_template, "message.html_template",
                              compose::Escaping::html);
    if (html.ok()) {
      factory.m_html.emplace(std::move(html).value());
    } else {
      problems.push_back(html.error().message);
    }
  }
  for (const auto& path : campaign.message.attachments) {
    auto attachment = factory.m_cache->get(path);
    if (!attachment.ok()) {
      problems.push_back("message.attachments: " + attachment.error().message);
      continue;
    }
    if (auto blocked = compose::blocked_extension_problem(
            (*attachment)->filename, campaign.limits.message.blocked_extensions)) {
      problems.push_back("message.attachments: " + *blocked);
    }
    factory.m_shared.push_back(std::move(attachment).value());
  }
  if (!problems.empty()) {
    std::string message;
    for (std::size_t i = 0; i < problems.size(); ++i) {
      message += (i ? "\n" : "") + problems[i];
    }
    return make_error(ErrorKind::config, message);
  }
  return factory;
}

core::Diagnostics MessageFactory::check_fields(const std::vector<std::string>& columns) const {
  core::Diagnostics out;
  for (const auto* tmpl : {&m_subject, &m_text, &m_html}) {
    if (!*tmpl) {
      continue;
    }
    for (const auto& use : (*tmpl)->fields()) {
      if (std::find(columns.begin(), columns.end(), use.name) != columns.end()) {
        continue;
      }
      std::string message = "field " + core::quote(use.name) +
                            " is not a column of " +
                            m_campaign->contacts.file.filename().string();
      if (auto guess = core::suggest(use.name, columns)) {
        message += " (did you mean " + core::quote(*guess) + "?)";
      }
      out.push_back(Diagnostic{(*tmpl)->name(), use.line, "", message});
    }
  }
  for (const auto& column : m_campaign->contacts.attachment_columns) {
    if (std::find(columns.begin(), columns.end(), column) == columns.end()) {
      std::string message = "contacts.attachment_columns: " + core::quote(column) +
                            " is not a column of the contacts file";
      if (auto guess = core::suggest(column, columns)) {
        message += " (did you mean " + core::quote(*guess) + "?)";
      }
      out.push_back(Diagnostic{m_campaign->file.string(), 0, "", message});
    }
  }
  return out;
}

std::vector<std::string> MessageFactory::header_columns() const {
  std::vector<std::string> out;
  if (m_subject) {
    for (const auto& use : m_subject->fields()) {
      out.push_back(use.name);
    }
  }
  for (const auto& column : m_campaign->contacts.attachment_columns) {
    out.push_back(column);
  }
  return out;
}

std::optional<MessageFactory::Built>
MessageFactory::build(const contacts::Contact& contact, std::time_t date,
                      const std::string& contacts_file, core::Diagnostics& problems,
                      bool with_bytes) {
  const auto& campaign = *m_campaign;
  const std::size_t problems_before = problems.size();
  auto problem = [&](const std::string& column, const std::string& message) {
    problems.push_back(Diagnostic{contacts_file, contact.row, column, message});
  };

  std::map<std::string, std::string> values;
  for (const auto& [name, value] : contact.fields) {
    values.emplace(name, value);
  }

  Built built;
  auto& spec = built.spec;
  spec.from = campaign.account.address;
  spec.to = contact.address;
  spec.subject = m_subject->render(values);
  spec.text = m_text->render(values);
  if (m_html) {
    spec.html = m_html->render(values);
  }
  spec.receipt = campaign.message.receipt;
  spec.date = date;
  spec.message_id = compose::make_message_id(campaign.id, contact.address, m_domain);
  spec.attachments = m_shared;

  // Per-recipient attachments are read for this row only, never cached:
  // caching them would make memory grow with the number of rows.
  compose::AttachmentCache row_cache;
  std::error_code ec;
  const auto& base = m_attachments_base;
  for (const auto& column : campaign.contacts.attachment_columns) {
    const std::string* cell = contact.field(column);
    if (!cell) {
      continue;
    }
    for (const auto& item : core::split(*cell, ';')) {
      const auto name = core::trim(item);
      if (name.empty()) {
        continue;
      }
      const auto resolved = std::filesystem::weakly_canonical(base / std::string(name), ec);
      if (ec || !is_within(base, resolved)) {
        problem(column, "attachment " + core::quote(name) + " is outside " +
                            campaign.contacts.attachments_dir.string());
        continue;
      }
      if (!std::filesystem::is_regular_file(resolved, ec)) {
        problem(column, "attachment " + core::quote(name) + " not found in " +
                            campaign.contacts.attachments_dir.string());
        continue;
      }
      auto attachment = row_cache.get(resolved);
      if (!attachment.ok()) {
        problem(column, attachment.error().message);
        continue;
      }
      spec.attachments.push_back(std::move(attachment).value());
    }
  }
  if (problems.size() != problems_before) {
    return std::nullopt;
  }

  if (with_bytes) {
    auto bytes = compose::compose_message(spec);
    if (!bytes.ok()) {
      problem("", bytes.error().message);
      return std::nullopt;
    }
    built.bytes = std::move(bytes).value();
    built.size = built.bytes.size();
  } else {
    const auto size = compose::composed_size(spec);
    if (!size.ok()) {
      problem("", size.error().message);
      return std::nullopt;
    }
    built.size = *size;
  }
  std::vector<std::string> names;
  for (const auto& attachment : spec.attachments) {
    names.push_back(attachment->filename);
  }
  for (const auto& message : compose::preflight(built.size, names, campaign.limits.message)) {
    problem("", message);
  }
  if (problems.size() != problems_before) {
    return std::nullopt;
  }
  return built;
}

} // namespace pecbatch::campaign
