#pragma once

#include <pecbatch/core/result.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pecbatch::compose {

// How values are written into the output.
enum class Escaping {
  none,  // subject and text bodies: values as they are
  html,  // HTML bodies: & < > " ' escaped
};

// A merge field a template uses, with the 1-based line where it first
// appears.
struct FieldUse {
  std::string name;
  std::uint64_t line = 0;
};

// A Mustache template (kainjow mustache). Values are strings; an empty
// value is false in sections ({{#f}}…{{/f}} shows only when f is not empty,
// {{^f}}…{{/f}} only when it is). Partials are not supported.
class Template {
public:
  // Parses `text`. `name` (usually the file path, or "subject") is used in
  // error messages, which read `name:line: message`. Fails with kind
  // `config` on a syntax error.
  static core::Result<Template> parse(std::string name, std::string text,
                                      Escaping escaping);

  const std::string& name() const;
  // Every distinct field the template refers to, in order of first use.
  const std::vector<FieldUse>& fields() const;

  // Renders with `values` (field name -> value). A field missing from
  // `values` renders as empty: callers check fields() against the contacts
  // columns beforehand.
  std::string render(const std::map<std::string, std::string>& values) const;

  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;
  ~Template();

private:
  struct Impl;
  explicit Template(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

} // namespace pecbatch::compose
