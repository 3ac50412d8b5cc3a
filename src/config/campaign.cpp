#include <pecbatch/config/campaign.hpp>

#include <pecbatch/core/address.hpp>
#include <pecbatch/core/file.hpp>
#include <pecbatch/core/strings.hpp>

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <variant>

namespace pecbatch::config {

using core::ErrorKind;
using core::make_error;
using core::Result;

namespace {

// ---------------------------------------------------------------------------
// The key registry: every key the campaign file accepts.

enum class Type { string, integer, size, port, path, path_list, string_list, choice };

struct KeyDef {
  const char* key;
  Type type;
  bool required;
  std::vector<std::string> choices;  // for Type::choice
};

const std::vector<KeyDef>& registry() {
  static const std::vector<KeyDef> keys = {
      {"campaign.id", Type::string, true, {}},
      {"campaign.name", Type::string, false, {}},
      {"campaign.output_dir", Type::path, false, {}},
      {"account.address", Type::string, true, {}},
      {"account.username", Type::string, false, {}},
      {"account.password_env", Type::string, false, {}},
      {"account.password_file", Type::path, false, {}},
      {"account.password_command", Type::string, false, {}},
      {"account.smtp_host", Type::string, false, {}},
      {"account.smtp_port", Type::port, false, {}},
      {"account.smtp_security", Type::choice, false, {"tls", "starttls"}},
      {"account.imap_host", Type::string, false, {}},
      {"account.imap_port", Type::port, false, {}},
      {"account.imap_security", Type::choice, false, {"tls", "starttls"}},
      {"account.ca_file", Type::path, false, {}},
      {"provider.profile", Type::choice, true,
       {"aruba", "legalmail", "namirial", "poste", "register", "custom"}},
      {"provider.max_message_size", Type::size, false, {}},
      {"provider.max_attachments", Type::integer, false, {}},
      {"provider.blocked_extensions", Type::string_list, false, {}},
      {"provider.rate_per_minute", Type::integer, false, {}},
      {"provider.rate_per_hour", Type::integer, false, {}},
      {"provider.rate_per_day", Type::integer, false, {}},
      {"contacts.file", Type::path, true, {}},
      {"contacts.format", Type::choice, false, {"auto", "csv", "xlsx", "xls"}},
      {"contacts.sheet", Type::string, false, {}},
      {"contacts.delimiter", Type::choice, false, {"auto", ",", ";", "tab"}},
      {"contacts.encoding", Type::choice, false,
       {"utf-8", "windows-1252", "latin-1"}},
      {"contacts.address_column", Type::string, false, {}},
      {"contacts.duplicates", Type::choice, false, {"error", "skip"}},
      {"contacts.attachment_columns", Type::string_list, false, {}},
      {"contacts.attachments_dir", Type::path, false, {}},
      {"message.subject", Type::string, true, {}},
      {"message.text_template", Type::path, true, {}},
      {"message.html_template", Type::path, false, {}},
      {"message.attachments", Type::path_list, false, {}},
      {"message.receipt", Type::choice, false, {"completa", "breve", "sintetica"}},
      {"send.concurrency", Type::integer, false, {}},
      {"send.max_attempts", Type::integer, false, {}},
      {"send.retry_base_seconds", Type::integer, false, {}},
      {"send.retry_max_seconds", Type::integer, false, {}},
      {"send.connect_timeout_seconds", Type::integer, false, {}},
      {"send.timeout_seconds", Type::integer, false, {}},
      {"send.messages_per_connection", Type::integer, false, {}},
      {"send.quiet_period_seconds", Type::integer, false, {}},
      {"send.helo_name", Type::string, false, {}},
      {"poll.no_receipt_after_hours", Type::integer, false, {}},
      {"poll.folders", Type::string_list, false, {}},
      {"poll.uncertain_grace_hours", Type::integer, false, {}},
      {"poll.archive_folder", Type::string, false, {}},
      {"report.fields", Type::string_list, false, {}},
  };
  return keys;
}

const KeyDef* find_key(std::string_view key) {
  for (const auto& def : registry()) {
    if (key == def.key) {
      return &def;
    }
  }
  return nullptr;
}

const char* type_name(Type type) {
  switch (type) {
  case Type::string: return "a string";
  case Type::integer: return "a non-negative integer";
  case Type::size: return "a size (bytes, or a string such as \"30 MB\")";
  case Type::port: return "a port number (1-65535)";
  case Type::path: return "a path (string)";
  case Type::path_list: return "an array of paths";
  case Type::string_list: return "an array of strings";
  case Type::choice: return "one of the listed strings";
  }
  return "a value";
}

// A value as given, before defaults: a string, an integer or a string list.
using Value = std::variant<std::string, std::int64_t, std::vector<std::string>>;

struct Given {
  Value value;
  std::string origin;
  std::uint64_t line = 0;       // line in the campaign file, 0 for flags
  std::filesystem::path base;   // for relative paths
};

std::string display(const Value& value) {
  if (const auto* s = std::get_if<std::string>(&value)) {
    return core::quote(*s);
  }
  if (const auto* i = std::get_if<std::int64_t>(&value)) {
    return std::to_string(*i);
  }
  const auto& list = std::get<std::vector<std::string>>(value);
  std::string out = "[";
  for (std::size_t i = 0; i < list.size(); ++i) {
    out += (i ? ", " : "") + core::quote(list[i]);
  }
  return out + "]";
}

// Collects every problem; the load fails at the end if there is any.
class Problems {
public:
  explicit Problems(std::string file) : m_file(std::move(file)) {}

  void add(std::uint64_t line, const std::string& key, const std::string& message) {
    std::string text = m_file;
    if (line > 0) {
      text += ":" + std::to_string(line);
    }
    text += ": ";
    if (!key.empty()) {
      text += key + ": ";
    }
    m_lines.push_back(text + message);
  }
  void add_flag(const std::string& origin, const std::string& key,
                const std::string& message) {
    m_lines.push_back(origin + ": " + key + ": " + message);
  }
  bool empty() const { return m_lines.empty(); }
  std::string joined() const {
    std::string out;
    for (std::size_t i = 0; i < m_lines.size(); ++i) {
      out += (i ? "\n" : "") + m_lines[i];
    }
    return out;
  }

private:
  std::string m_file;
  std::vector<std::string> m_lines;
};

std::string node_kind(const toml::node& node) {
  switch (node.type()) {
  case toml::node_type::string: return "a string";
  case toml::node_type::integer: return "an integer";
  case toml::node_type::floating_point: return "a floating-point number";
  case toml::node_type::boolean: return "a boolean";
  case toml::node_type::array: return "an array";
  case toml::node_type::table: return "a table";
  default: return "a date or time";
  }
}

// Converts a TOML node to a Value of the key's type, or explains why not.
std::optional<Value> convert(const toml::node& node, const KeyDef& def,
                             std::string& why) {
  auto wrong = [&]() {
    why = std::string("expected ") + type_name(def.type) + ", got " + node_kind(node);
    return std::nullopt;
  };
  switch (def.type) {
  case Type::string:
  case Type::path:
  case Type::choice:
    if (auto s = node.value<std::string>()) {
      return Value{*s};
    }
    return wrong();
  case Type::integer:
  case Type::port:
    if (node.is_integer()) {
      return Value{*node.value<std::int64_t>()};
    }
    return wrong();
  case Type::size:
    if (node.is_integer()) {
      return Value{*node.value<std::int64_t>()};
    }
    if (auto s = node.value<std::string>()) {
      return Value{*s};
    }
    return wrong();
  case Type::path_list:
  case Type::string_list: {
    const auto* array = node.as_array();
    if (!array) {
      return wrong();
    }
    std::vector<std::string> items;
    for (const auto& element : *array) {
      auto s = element.value<std::string>();
      if (!s) {
        why = std::string("expected ") + type_name(def.type) + ", found " +
              node_kind(element) + " in the array";
        return std::nullopt;
      }
      items.push_back(*s);
    }
    return Value{std::move(items)};
  }
  }
  return wrong();
}

std::vector<std::string> section_names() {
  std::vector<std::string> out;
  for (const auto& def : registry()) {
    std::string key = def.key;
    std::string section = key.substr(0, key.find('.'));
    if (std::find(out.begin(), out.end(), section) == out.end()) {
      out.push_back(section);
    }
  }
  return out;
}

std::string unknown_key_message(const std::string& key) {
  std::string message = "unknown key";
  std::vector<std::string> all;
  for (const auto& def : registry()) {
    all.emplace_back(def.key);
  }
  if (auto guess = core::suggest(key, all)) {
    return message + " (did you mean " + *guess + "?)";
  }
  // The same key name in another section?
  const std::string leaf = key.substr(key.find('.') + 1);
  for (const auto& candidate : all) {
    if (candidate.substr(candidate.find('.') + 1) == leaf) {
      return message + " (did you mean " + candidate + "?)";
    }
  }
  return message;
}

void read_file_values(const toml::table& root, const std::string& file_name,
                      const std::filesystem::path& base,
                      std::map<std::string, Given>& given, Problems& problems) {
  const auto sections = section_names();
  for (const auto& [section_key, section_node] : root) {
    const std::string section(section_key.str());
    const auto line = section_node.source().begin.line;
    if (std::find(sections.begin(), sections.end(), section) == sections.end()) {
      std::string message = "unknown section";
      if (auto guess = core::suggest(section, sections)) {
        message += " (did you mean [" + *guess + "]?)";
      } else if (!section_node.is_table()) {
        message = "unknown key";
        std::string key = section;
        std::vector<std::string> all;
        for (const auto& def : registry()) {
          all.emplace_back(def.key);
        }
        for (const auto& candidate : all) {
          if (candidate.substr(candidate.find('.') + 1) == key) {
            message += " (keys belong in a section: did you mean " + candidate + "?)";
            break;
          }
        }
      }
      problems.add(line, section, message);
      continue;
    }
    const auto* table = section_node.as_table();
    if (!table) {
      problems.add(line, section, "expected a table [" + section + "], got " +
                                      node_kind(section_node));
      continue;
    }
    for (const auto& [leaf, node] : *table) {
      const std::string key = section + "." + std::string(leaf.str());
      const auto key_line = node.source().begin.line;
      const KeyDef* def = find_key(key);
      if (!def) {
        problems.add(key_line, key, unknown_key_message(key));
        continue;
      }
      std::string why;
      auto value = convert(node, *def, why);
      if (!value) {
        problems.add(key_line, key, why);
        continue;
      }
      given[key] = Given{std::move(*value), file_name + ":" + std::to_string(key_line),
                         key_line, base};
    }
  }
}

void apply_overrides(const std::vector<Override>& overrides,
                     std::map<std::string, Given>& given, Problems& problems) {
  for (const auto& override_value : overrides) {
    const KeyDef* def = find_key(override_value.key);
    if (!def) {
      problems.add_flag(override_value.origin, override_value.key,
                        unknown_key_message(override_value.key));
      continue;
    }
    // A flag's value is TOML value syntax when it parses as such, otherwise
    // a bare string: `--set provider.rate_per_minute=6` is an integer,
    // `--set contacts.file=a.csv` a string.
    std::optional<Value> value;
    std::string why;
    if (!override_value.literal) {
      try {
        const auto table = toml::parse("v = " + override_value.value);
        if (const auto* node = table.get("v")) {
          value = convert(*node, *def, why);
        }
      } catch (const toml::parse_error&) {
        value.reset();
      }
    }
    if (!value) {
      toml::value<std::string> as_string(override_value.value);
      why.clear();
      value = convert(as_string, *def, why);
    }
    if (!value) {
      problems.add_flag(override_value.origin, override_value.key, why);
      continue;
    }
    given[override_value.key] =
        Given{std::move(*value), override_value.origin, 0, override_value.base_dir};
  }
}

// Resolves the typed values with their defaults, recording each setting.
class Resolver {
public:
  Resolver(const std::map<std::string, Given>& given, Problems& problems,
           std::vector<Setting>& settings)
      : m_given(given), m_problems(problems), m_settings(settings) {}

  const Given* find(const std::string& key) const {
    auto it = m_given.find(key);
    return it == m_given.end() ? nullptr : &it->second;
  }

  void problem(const std::string& key, const std::string& message) {
    const Given* g = find(key);
    if (g && g->line == 0) {
      m_problems.add_flag(g->origin, key, message);
    } else {
      m_problems.add(g ? g->line : 0, key, message);
    }
  }

  void record(const std::string& key, std::string value, std::string origin) {
    m_settings.push_back(Setting{key, std::move(value), std::move(origin)});
  }

  // A string key: the given value, else `fallback` with `fallback_origin`.
  std::string text(const std::string& key, const std::string& fallback = "",
                   const std::string& fallback_origin = "default") {
    if (const Given* g = find(key)) {
      const auto& s = std::get<std::string>(g->value);
      record(key, core::quote(s), g->origin);
      return s;
    }
    if (find_key(key)->required) {
      problem(key, "missing required key");
    }
    record(key, fallback.empty() ? "" : core::quote(fallback),
           fallback.empty() ? "unset" : fallback_origin);
    return fallback;
  }

  std::optional<std::filesystem::path> path(const std::string& key) {
    if (const Given* g = find(key)) {
      const auto& s = std::get<std::string>(g->value);
      if (s.empty()) {
        problem(key, "empty path");
      }
      auto resolved = (g->base / s).lexically_normal();
      record(key, core::quote(resolved.string()), g->origin);
      return resolved;
    }
    if (find_key(key)->required) {
      problem(key, "missing required key");
    }
    return std::nullopt;
  }

  void record_default_path(const std::string& key, const std::filesystem::path& p,
                           const std::string& origin) {
    record(key, core::quote(p.string()), origin);
  }

  std::vector<std::filesystem::path> path_list(const std::string& key) {
    std::vector<std::filesystem::path> out;
    if (const Given* g = find(key)) {
      std::vector<std::string> shown;
      for (const auto& s : std::get<std::vector<std::string>>(g->value)) {
        out.push_back((g->base / s).lexically_normal());
        shown.push_back(out.back().string());
      }
      record(key, display(Value{shown}), g->origin);
      return out;
    }
    record(key, "[]", "default");
    return out;
  }

  std::vector<std::string> string_list(const std::string& key,
                                       const std::vector<std::string>& fallback,
                                       const std::string& fallback_origin) {
    if (const Given* g = find(key)) {
      const auto& list = std::get<std::vector<std::string>>(g->value);
      record(key, display(Value{list}), g->origin);
      return list;
    }
    record(key, display(Value{fallback}), fallback_origin);
    return fallback;
  }

  std::uint64_t number(const std::string& key, std::uint64_t fallback,
                       const std::string& fallback_origin, std::uint64_t max) {
    if (const Given* g = find(key)) {
      const auto v = std::get<std::int64_t>(g->value);
      if (v < 0 || static_cast<std::uint64_t>(v) > max) {
        problem(key, "out of range (0 to " + std::to_string(max) + ")");
        return fallback;
      }
      record(key, std::to_string(v), g->origin);
      return static_cast<std::uint64_t>(v);
    }
    record(key, std::to_string(fallback), fallback_origin);
    return fallback;
  }

  std::uint16_t port(const std::string& key, std::uint16_t fallback,
                     const std::string& fallback_origin) {
    if (const Given* g = find(key)) {
      const auto v = std::get<std::int64_t>(g->value);
      if (v < 1 || v > 65535) {
        problem(key, "not a port number (1-65535): " + std::to_string(v));
        return fallback;
      }
      record(key, std::to_string(v), g->origin);
      return static_cast<std::uint16_t>(v);
    }
    record(key, std::to_string(fallback), fallback_origin);
    return fallback;
  }

  std::uint64_t size(const std::string& key, std::uint64_t fallback,
                     const std::string& fallback_origin) {
    if (const Given* g = find(key)) {
      if (const auto* i = std::get_if<std::int64_t>(&g->value)) {
        if (*i < 0) {
          problem(key, "negative size");
          return fallback;
        }
        record(key, std::to_string(*i), g->origin);
        return static_cast<std::uint64_t>(*i);
      }
      const auto& s = std::get<std::string>(g->value);
      auto parsed = parse_size(s);
      if (!parsed) {
        problem(key, "not a size: " + core::quote(s) +
                         " (write bytes, or e.g. \"30 MB\", \"100 MiB\")");
        return fallback;
      }
      record(key, core::quote(s), g->origin);
      return *parsed;
    }
    record(key, std::to_string(fallback), fallback_origin);
    return fallback;
  }

  std::string choice(const std::string& key, const std::string& fallback,
                     const std::string& fallback_origin = "default") {
    const KeyDef* def = find_key(key);
    if (const Given* g = find(key)) {
      const auto& s = std::get<std::string>(g->value);
      const auto& choices = def->choices;
      if (std::find(choices.begin(), choices.end(), s) == choices.end()) {
        std::string message = "must be one of ";
        for (std::size_t i = 0; i < choices.size(); ++i) {
          message += (i ? ", " : "") + core::quote(choices[i]);
        }
        message += ", not " + core::quote(s);
        if (auto guess = core::suggest(s, choices)) {
          message += " (did you mean " + core::quote(*guess) + "?)";
        }
        problem(key, message);
        return fallback;
      }
      record(key, core::quote(s), g->origin);
      return s;
    }
    if (def->required) {
      problem(key, "missing required key");
    }
    record(key, fallback.empty() ? "" : core::quote(fallback),
           fallback.empty() ? "unset" : fallback_origin);
    return fallback;
  }

private:
  const std::map<std::string, Given>& m_given;
  Problems& m_problems;
  std::vector<Setting>& m_settings;
};

bool valid_campaign_id(const std::string& id) {
  if (id.empty() || id.size() > 64) {
    return false;
  }
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9');
    if (!alnum && !(i > 0 && (c == '-' || c == '_'))) {
      return false;
    }
  }
  return true;
}

Security to_security(const std::string& text) {
  return text == "starttls" ? Security::starttls : Security::tls;
}

} // namespace

std::vector<std::string> known_keys() {
  std::vector<std::string> out;
  for (const auto& def : registry()) {
    out.emplace_back(def.key);
  }
  return out;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  const std::string_view s = core::trim(text);
  std::size_t i = 0;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
    ++i;
  }
  if (i == 0) {
    return std::nullopt;
  }
  const std::string number(s.substr(0, i));
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(number.c_str(), &end);
  if (errno != 0 || end != number.c_str() + number.size() || value < 0) {
    return std::nullopt;
  }
  const std::string unit = core::to_lower_ascii(core::trim(s.substr(i)));
  static const std::map<std::string, double> units = {
      {"", 1},         {"b", 1},
      {"kb", 1e3},     {"mb", 1e6},      {"gb", 1e9},
      {"kib", 1024.0}, {"mib", 1048576.0}, {"gib", 1073741824.0}};
  auto it = units.find(unit);
  if (it == units.end()) {
    return std::nullopt;
  }
  const double bytes = value * it->second;
  if (bytes > 1e15) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(bytes + 0.5);
}

Result<Override> parse_set_flag(const std::string& text,
                                const std::filesystem::path& base_dir) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return make_error(ErrorKind::config,
                      "--set: expected KEY=VALUE, got " + core::quote(text));
  }
  return Override{std::string(core::trim(text.substr(0, eq))), text.substr(eq + 1),
                  "--set", base_dir};
}

Result<Campaign> load_campaign(const std::filesystem::path& file,
                               const std::vector<Override>& overrides) {
  const auto absolute = std::filesystem::absolute(file).lexically_normal();
  PB_TRY_ASSIGN(const std::string content, core::read_file(absolute));
  const std::string file_name = file.string();
  Problems problems(file_name);

  toml::table root;
  try {
    root = toml::parse(content, file_name);
  } catch (const toml::parse_error& error) {
    return make_error(ErrorKind::config,
                      file_name + ":" + std::to_string(error.source().begin.line) +
                          ": " + std::string(error.description()));
  }

  std::map<std::string, Given> given;
  read_file_values(root, file_name, absolute.parent_path(), given, problems);
  apply_overrides(overrides, given, problems);

  Campaign campaign;
  campaign.file = absolute;
  Resolver r(given, problems, campaign.settings);

  // [campaign]
  campaign.id = r.text("campaign.id");
  if (r.find("campaign.id") && !valid_campaign_id(campaign.id)) {
    r.problem("campaign.id",
              "must be 1 to 64 letters, digits, '-' or '_', starting with a "
              "letter or digit (it becomes part of every Message-ID)");
  }
  campaign.name = r.text("campaign.name", campaign.id, "campaign.id");
  if (auto out = r.path("campaign.output_dir")) {
    campaign.output_dir = *out;
  } else {
    campaign.output_dir = absolute.parent_path() / ("pecbatch-" + campaign.id);
    r.record_default_path("campaign.output_dir", campaign.output_dir,
                          "default: pecbatch-<id> beside the campaign file");
  }

  // [provider] first: the account's endpoints default from the profile.
  const std::string profile_name = r.choice("provider.profile", "");
  campaign.profile = find_provider_profile(profile_name.empty() ? "custom" : profile_name);
  const ProviderProfile& profile = *campaign.profile;
  const std::string from_profile = "profile " + profile.name;

  // [account]
  auto& account = campaign.account;
  account.address = r.text("account.address");
  if (r.find("account.address")) {
    if (auto why = core::mailbox_problem(account.address)) {
      r.problem("account.address", "not a valid PEC address " +
                                       core::quote(account.address) + " (" + *why + ")");
    }
  }
  account.username = r.text("account.username", account.address, "account.address");
  account.password_env = r.text("account.password_env");
  account.password_file = r.path("account.password_file");
  if (!account.password_file) {
    r.record("account.password_file", "", "unset");
  }
  account.password_command = r.text("account.password_command");
  if (!account.password_command.empty()) {
    // The command may carry a token; show only the program.
    auto& shown = campaign.settings.back().value;
    const auto program = account.password_command.substr(
        0, account.password_command.find(' '));
    shown = core::quote(program) + (program.size() < account.password_command.size()
                                        ? " <arguments redacted>"
                                        : "");
  }
  const int sources = (account.password_env.empty() ? 0 : 1) +
                      (account.password_file ? 1 : 0) +
                      (account.password_command.empty() ? 0 : 1);
  if (sources > 1) {
    r.problem("account.password_env",
              "set only one of password_env, password_file, password_command");
  }
  if (r.find("account.password_env")) {
    for (char c : account.password_env) {
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '_')) {
        r.problem("account.password_env",
                  "must be the NAME of an environment variable (letters, digits, "
                  "'_'), never the password itself");
        break;
      }
    }
  }
  account.smtp_host = r.text("account.smtp_host", profile.smtp_host, from_profile);
  account.smtp_port = r.port("account.smtp_port", profile.smtp_port, from_profile);
  account.smtp_security = to_security(
      r.choice("account.smtp_security", to_string(profile.smtp_security), from_profile));
  account.imap_host = r.text("account.imap_host", profile.imap_host, from_profile);
  account.imap_port = r.port("account.imap_port", profile.imap_port, from_profile);
  account.imap_security = to_security(
      r.choice("account.imap_security", to_string(profile.imap_security), from_profile));
  account.ca_file = r.path("account.ca_file");
  if (!account.ca_file) {
    r.record("account.ca_file", "", "unset (system CA bundle only)");
  }

  // Provider limits.
  auto& limits = campaign.limits;
  limits.message.max_message_bytes =
      r.size("provider.max_message_size", profile.max_message_bytes, from_profile);
  limits.message.max_attachments = static_cast<unsigned>(r.number(
      "provider.max_attachments", profile.max_attachments, from_profile, 100000));
  limits.message.blocked_extensions = r.string_list(
      "provider.blocked_extensions", profile.blocked_extensions, from_profile);
  for (auto& extension : limits.message.blocked_extensions) {
    extension = core::to_lower_ascii(extension);
    if (!extension.empty() && extension.front() == '.') {
      extension.erase(0, 1);
    }
  }
  limits.rate_per_minute = static_cast<unsigned>(
      r.number("provider.rate_per_minute", profile.rate_per_minute, from_profile, 1000000));
  limits.rate_per_hour = static_cast<unsigned>(
      r.number("provider.rate_per_hour", profile.rate_per_hour, from_profile, 1000000));
  limits.rate_per_day = static_cast<unsigned>(
      r.number("provider.rate_per_day", profile.rate_per_day, from_profile, 10000000));

  // [contacts]
  auto& contacts_settings = campaign.contacts;
  if (auto path = r.path("contacts.file")) {
    contacts_settings.file = *path;
  }
  contacts_settings.read.format = *contacts::parse_format(
      r.choice("contacts.format", "auto"));
  contacts_settings.read.sheet = r.text("contacts.sheet");
  const std::string delimiter = r.choice("contacts.delimiter", "auto");
  if (delimiter == "tab") {
    contacts_settings.read.delimiter = '\t';
  } else if (delimiter != "auto") {
    contacts_settings.read.delimiter = delimiter[0];
  }
  contacts_settings.read.encoding =
      *contacts::parse_encoding(r.choice("contacts.encoding", "utf-8"));
  contacts_settings.validate.address_column = r.text("contacts.address_column");
  contacts_settings.validate.duplicates =
      r.choice("contacts.duplicates", "error") == "skip" ? contacts::DuplicatePolicy::skip
                                                          : contacts::DuplicatePolicy::error;
  contacts_settings.attachment_columns =
      r.string_list("contacts.attachment_columns", {}, "default");
  if (auto dir = r.path("contacts.attachments_dir")) {
    contacts_settings.attachments_dir = *dir;
  } else {
    contacts_settings.attachments_dir = absolute.parent_path();
    r.record_default_path("contacts.attachments_dir", contacts_settings.attachments_dir,
                          "default: the campaign file's directory");
  }

  // [message]
  auto& message = campaign.message;
  message.subject = r.text("message.subject");
  if (auto path = r.path("message.text_template")) {
    message.text_template = *path;
  }
  message.html_template = r.path("message.html_template");
  if (!message.html_template) {
    r.record("message.html_template", "", "unset (text only)");
  }
  message.attachments = r.path_list("message.attachments");
  message.receipt = *compose::parse_receipt_type(r.choice("message.receipt", "breve"));

  // [send]
  auto& send = campaign.send;
  auto bounded = [&](const char* key, unsigned fallback, unsigned low, unsigned high) {
    const auto value = static_cast<unsigned>(r.number(key, fallback, "default", high));
    if (value < low) {
      r.problem(key, "must be at least " + std::to_string(low));
      return fallback;
    }
    return value;
  };
  send.concurrency = bounded("send.concurrency", send.concurrency, 1, 16);
  send.max_attempts = bounded("send.max_attempts", send.max_attempts, 1, 100);
  send.retry_base_seconds = bounded("send.retry_base_seconds", send.retry_base_seconds, 0, 3600);
  send.retry_max_seconds = bounded("send.retry_max_seconds", send.retry_max_seconds, 0, 86400);
  send.connect_timeout_seconds =
      bounded("send.connect_timeout_seconds", send.connect_timeout_seconds, 1, 600);
  send.timeout_seconds = bounded("send.timeout_seconds", send.timeout_seconds, 1, 3600);
  send.messages_per_connection =
      bounded("send.messages_per_connection", send.messages_per_connection, 1, 100000);
  send.quiet_period_seconds =
      bounded("send.quiet_period_seconds", send.quiet_period_seconds, 0, 86400);
  send.helo_name = r.text("send.helo_name",
                          std::string(core::mailbox_domain(account.address)),
                          "default: the sender's domain");

  // [poll]
  campaign.poll.no_receipt_after_hours = bounded(
      "poll.no_receipt_after_hours", campaign.poll.no_receipt_after_hours, 1, 24 * 30);
  campaign.poll.folders = r.string_list("poll.folders", campaign.poll.folders, "default");
  if (campaign.poll.folders.empty()) {
    r.problem("poll.folders", "at least one folder is needed (the default is [\"INBOX\"])");
  }
  for (const auto& folder : campaign.poll.folders) {
    if (core::trim(folder).empty()) {
      r.problem("poll.folders", "empty folder name");
      break;
    }
  }
  campaign.poll.uncertain_grace_hours = bounded(
      "poll.uncertain_grace_hours", campaign.poll.uncertain_grace_hours, 1, 24 * 30);
  campaign.poll.archive_folder = r.text("poll.archive_folder");
  if (!campaign.poll.archive_folder.empty()) {
    const auto& archive = campaign.poll.archive_folder;
    if (core::trim(archive).empty()) {
      r.problem("poll.archive_folder", "blank folder name (leave the key out to keep the "
                                       "mailbox read-only)");
    }
    for (const auto& folder : campaign.poll.folders) {
      // INBOX is case-insensitive in IMAP; other names are not.
      const bool inbox = core::iequals_ascii(folder, "INBOX") &&
                         core::iequals_ascii(archive, "INBOX");
      if (folder == archive || inbox) {
        r.problem("poll.archive_folder",
                  core::quote(archive) + " is also one of poll.folders: receipts would be "
                                         "moved into a folder that is read for receipts");
        break;
      }
    }
  }

  // [report]
  campaign.report.fields = r.string_list("report.fields", {}, "default");
  for (const auto& field : campaign.report.fields) {
    if (core::trim(field).empty()) {
      r.problem("report.fields", "empty column name");
      break;
    }
  }

  if (!problems.empty()) {
    return make_error(ErrorKind::config, problems.joined());
  }
  return campaign;
}

Result<std::string> resolve_password(const Account& account) {
  if (!account.password_env.empty()) {
    const char* value = std::getenv(account.password_env.c_str());
    if (!value || !*value) {
      return make_error(ErrorKind::config, "account.password_env: environment variable " +
                                               account.password_env + " is not set");
    }
    return std::string(value);
  }
  if (account.password_file) {
    const auto& path = *account.password_file;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      return make_error(ErrorKind::config, "account.password_file: " + path.string() +
                                               ": " + std::strerror(errno));
    }
    if ((st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return make_error(ErrorKind::config,
                        "account.password_file: " + path.string() + " has mode " + mode +
                            ": it must not be readable or writable by group or "
                            "others (chmod 600 " + path.string() + ")");
    }
    PB_TRY_ASSIGN(std::string content, core::read_file(path));
    while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
      content.pop_back();
    }
    if (content.empty()) {
      return make_error(ErrorKind::config,
                        "account.password_file: " + path.string() + " is empty");
    }
    return content;
  }
  if (!account.password_command.empty()) {
    FILE* pipe = ::popen(account.password_command.c_str(), "r");
    if (!pipe) {
      return make_error(ErrorKind::config, "account.password_command: cannot run it: " +
                                               std::string(std::strerror(errno)));
    }
    std::string output;
    char buf[256];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) {
      output.append(buf, n);
    }
    const int status = ::pclose(pipe);
    if (status != 0) {
      return make_error(ErrorKind::config,
                        "account.password_command: the command failed (exit status " +
                            std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                            ")");
    }
    const auto end = output.find_first_of("\r\n");
    if (end != std::string::npos) {
      output.resize(end);
    }
    if (output.empty()) {
      return make_error(ErrorKind::config,
                        "account.password_command: the command printed nothing");
    }
    return output;
  }
  return make_error(ErrorKind::config,
                    "no password source: set account.password_env, "
                    "account.password_file or account.password_command");
}

} // namespace pecbatch::config
