#include <pecbatch/compose/template.hpp>

#include <pecbatch/core/strings.hpp>

#include <kainjow/mustache.hpp>

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pecbatch::compose {

namespace mustache = kainjow::mustache;

namespace {

// Counts lines while moving forward through a text. A line ends at LF, CRLF
// or a lone CR (kainjow accepts all three).
class LineCounter {
public:
  explicit LineCounter(std::string_view text) : m_text(text) {}

  // Returns the 1-based line of byte `offset` (not before the last offset
  // asked for).
  std::uint64_t line_at(std::size_t offset) {
    const std::size_t end = std::min(offset, m_text.size());
    for (; m_pos < end; ++m_pos) {
      const char c = m_text[m_pos];
      if (c == '\n' ||
          (c == '\r' && (m_pos + 1 >= m_text.size() || m_text[m_pos + 1] != '\n'))) {
        ++m_line;
      }
    }
    return m_line;
  }

private:
  std::string_view m_text;
  std::size_t m_pos = 0;
  std::uint64_t m_line = 1;
};

core::Error syntax_error(const std::string& name, std::uint64_t line,
                         const std::string& message) {
  return core::make_error(core::ErrorKind::config,
                          name + ":" + std::to_string(line) + ": " + message);
}

// kainjow reports errors as "<What> at <byte offset>". Returns the error
// as `name:line: what`, with the wording made a little friendlier.
core::Error from_kainjow_error(const std::string& name, std::string_view text,
                               const std::string& message) {
  std::string what = message;
  std::size_t offset = 0;
  const auto at = message.rfind(" at ");
  if (at != std::string::npos) {
    const char* first = message.data() + at + 4;
    const char* last = message.data() + message.size();
    const auto [ptr, ec] = std::from_chars(first, last, offset);
    if (ec == std::errc() && ptr == last) {
      what = message.substr(0, at);
    } else {
      offset = 0;
    }
  }
  const std::uint64_t line = LineCounter(text).line_at(offset);

  // Known kainjow 4.1 messages.
  constexpr std::string_view unclosed_section = "Unclosed section ";
  constexpr std::string_view unopened_section = "Unopened section ";
  if (what == "Unclosed tag") {
    return syntax_error(name, line, "unclosed tag (missing \"}}\")");
  }
  if (what.starts_with(unclosed_section)) {
    return syntax_error(name, line,
                        "section " + what.substr(unclosed_section.size()) +
                            " is never closed, or closed out of order");
  }
  if (what.starts_with(unopened_section)) {
    return syntax_error(name, line,
                        "closing tag for section " +
                            what.substr(unopened_section.size()) +
                            " that is not open");
  }
  if (!what.empty() && what[0] >= 'A' && what[0] <= 'Z') {
    what[0] = static_cast<char>(what[0] - 'A' + 'a');
  }
  return syntax_error(name, line, what);
}

// Scans the tags of a template that kainjow accepted, with the default
// "{{ }}" delimiters. Collects the fields in order of first use; fails on
// partials, delimiter changes and empty tags, which we do not support.
core::Result<std::vector<FieldUse>> scan_fields(const std::string& name,
                                                std::string_view text) {
  std::vector<FieldUse> fields;
  std::set<std::string, std::less<>> seen;
  LineCounter lines(text);
  std::size_t pos = 0;
  while ((pos = text.find("{{", pos)) != std::string_view::npos) {
    const std::uint64_t line = lines.line_at(pos);

    std::string_view content;
    char sigil = 0;
    if (pos + 2 < text.size() && text[pos + 2] == '{') {
      const auto end = text.find("}}}", pos + 3);
      if (end == std::string_view::npos) {
        return syntax_error(name, line, "unclosed tag (missing \"}}}\")");
      }
      content = core::trim(text.substr(pos + 3, end - pos - 3));
      sigil = '&';
      pos = end + 3;
    } else {
      const auto end = text.find("}}", pos + 2);
      if (end == std::string_view::npos) {
        return syntax_error(name, line, "unclosed tag (missing \"}}\")");
      }
      content = core::trim(text.substr(pos + 2, end - pos - 2));
      pos = end + 2;
      if (!content.empty() && std::string_view("#^/&!>=").find(content[0]) !=
                                  std::string_view::npos) {
        sigil = content[0];
        content = core::trim(content.substr(1));
      }
    }

    switch (sigil) {
    case '!':
      continue;
    case '>':
      return syntax_error(name, line,
                          "partials ({{>" + std::string(content) +
                              "}}) are not supported");
    case '=':
      return syntax_error(name, line,
                          "delimiter changes ({{=...=}}) are not supported");
    default:
      break;
    }
    if (content.empty()) {
      return syntax_error(name, line, "empty tag name");
    }
    if (content == ".") {
      // The current value inside a section, not a field.
      continue;
    }
    if (seen.find(content) == seen.end()) {
      seen.emplace(content);
      fields.push_back(FieldUse{std::string(content), line});
    }
  }
  return fields;
}

// Marks where a standalone tag line was; removed after rendering. The byte
// 0xFF never occurs in UTF-8, and kainjow takes it for ordinary text.
constexpr char k_standalone_mark = '\xFF';

// The sigil ('#', '^', '/' or '!') when `line` (without its line end) holds
// nothing but one section, inverted-section, section-end or comment tag,
// and blanks; else 0. Sets `tag` to the tag.
char standalone_tag(std::string_view line, std::string_view& tag) {
  const auto first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return 0;
  }
  const auto last = line.find_last_not_of(" \t");
  tag = line.substr(first, last - first + 1);
  if (tag.size() < 5 || !tag.starts_with("{{") || !tag.ends_with("}}") ||
      tag[2] == '{' || tag.find("}}") != tag.size() - 2 ||
      tag.find("{{", 2) != std::string_view::npos) {
    return 0;
  }
  const std::string_view content = core::trim(tag.substr(2, tag.size() - 4));
  if (content.empty() ||
      std::string_view("#^/!").find(content[0]) == std::string_view::npos) {
    return 0;
  }
  return content[0];
}

// Applies the Mustache "standalone line" rule before kainjow sees the text:
// a line holding only a section or comment tag disappears from the output,
// line end included. kainjow 4.1 only approximates it (a line that renders
// blank after a section tag is dropped), which leaves a blank line where a
// hidden section was and drops wanted blank lines next to shown ones. So a
// standalone section tag line becomes the mark plus the tag, without blanks
// or line end: the mark keeps kainjow's own rule from firing and is removed
// from the output. Standalone comment lines are dropped.
std::string apply_standalone_rule(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto newline = text.find('\n', pos);
    const std::size_t end = newline == std::string_view::npos ? text.size() : newline + 1;
    const std::string_view line = text.substr(pos, end - pos);
    std::string_view content = line;
    if (content.ends_with('\n')) {
      content.remove_suffix(1);
    }
    if (content.ends_with('\r')) {
      content.remove_suffix(1);
    }
    std::string_view tag;
    const char sigil = standalone_tag(content, tag);
    if (sigil == 0) {
      out.append(line);
    } else if (sigil != '!') {
      out += k_standalone_mark;
      out.append(tag);
    }
    pos = end;
  }
  return out;
}

// Looks names up as they are, without kainjow's "a.b" = nested-object rule:
// our data is flat and column names such as "P.IVA" contain dots.
class FlatContext : public mustache::basic_context<std::string> {
public:
  explicit FlatContext(const mustache::data* root) { push(root); }

  void push(const mustache::data* data) override { m_items.push_back(data); }
  void pop() override { m_items.pop_back(); }

  const mustache::data* get(const std::string& name) const override {
    if (name == ".") {
      return m_items.back();
    }
    for (auto it = m_items.rbegin(); it != m_items.rend(); ++it) {
      if (const auto* found = (*it)->get(name)) {
        return found;
      }
    }
    return nullptr;
  }

  const mustache::data* get_partial(const std::string&) const override {
    return nullptr;
  }

private:
  std::vector<const mustache::data*> m_items;
};

} // namespace

struct Template::Impl {
  Impl(std::string a_name, const std::string& text)
      : name(std::move(a_name)), engine(text) {}

  std::string name;
  std::vector<FieldUse> fields;
  // kainjow's render() is not const; rendering is serialised so that one
  // Template can be shared between threads.
  std::mutex mutex;
  mustache::mustache engine;
};

Template::Template(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;
Template::~Template() = default;

core::Result<Template> Template::parse(std::string name, std::string text,
                                       Escaping escaping) {
  // Syntax errors are found on the text as written, so that their byte
  // offsets give the user's line numbers.
  const mustache::mustache checked(text);
  if (!checked.is_valid()) {
    return from_kainjow_error(name, text, checked.error_message());
  }
  PB_TRY_ASSIGN(auto fields, scan_fields(name, text));
  auto impl = std::make_unique<Impl>(std::move(name), apply_standalone_rule(text));
  // The rewrite only removes blanks and line ends around standalone tags, so
  // it cannot make a valid template invalid; checked all the same.
  if (!impl->engine.is_valid()) {
    return from_kainjow_error(impl->name, text, impl->engine.error_message());
  }
  impl->fields = std::move(fields);
  if (escaping == Escaping::none) {
    impl->engine.set_custom_escape([](const std::string& s) { return s; });
  }
  // Escaping::html keeps kainjow's default escape: & < > " '.
  return Template(std::move(impl));
}

const std::string& Template::name() const { return m_impl->name; }

const std::vector<FieldUse>& Template::fields() const { return m_impl->fields; }

std::string Template::render(const std::map<std::string, std::string>& values) const {
  // kainjow treats any string, even an empty one, as true in a section; an
  // empty value is passed as `false` instead, which {{f}} renders as nothing.
  mustache::data data{mustache::data::type::object};
  for (const auto& [key, value] : values) {
    if (value.empty()) {
      data.set(key, mustache::data{false});
    } else {
      data.set(key, mustache::data{value});
    }
  }
  FlatContext context(&data);
  const std::lock_guard lock(m_impl->mutex);
  // Values are written as text and never parsed as a template, so a value
  // holding "{{x}}" comes out literally.
  std::string out = m_impl->engine.render(context);
  // Values are UTF-8, so the only 0xFF bytes are the marks (a stray 0xFF in
  // an invalid value goes too; compose_message refuses invalid UTF-8 anyway).
  std::erase(out, k_standalone_mark);
  return out;
}

} // namespace pecbatch::compose
