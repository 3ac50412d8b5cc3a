#include <pecbatch/core/address.hpp>

#include <pecbatch/core/strings.hpp>

#include <cstring>

namespace pecbatch::core {

namespace {

bool is_atext(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return c != '\0' && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
}

bool is_let_dig(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

} // namespace

std::optional<std::string> mailbox_problem(std::string_view address) {
  if (address.empty()) {
    return "empty address";
  }
  if (address.find_first_of("<>") != std::string_view::npos) {
    return "contains angle brackets: write the bare address, without a display name";
  }
  for (char c : address) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n' || c == '\0') {
      return "contains a line break or NUL character";
    }
    if (c == ' ' || c == '\t') {
      return "contains a space";
    }
    if (u >= 0x80) {
      return "contains non-ASCII characters";
    }
  }
  if (address.size() > 254) {
    return "longer than 254 characters";
  }
  const auto at = address.rfind('@');
  if (at == std::string_view::npos) {
    return "missing '@'";
  }
  const std::string_view local = address.substr(0, at);
  const std::string_view domain = address.substr(at + 1);
  if (local.empty()) {
    return "empty local part before '@'";
  }
  if (local.size() > 64) {
    return "local part longer than 64 characters";
  }
  if (local.front() == '.' || local.back() == '.' ||
      local.find("..") != std::string_view::npos) {
    return "local part has a misplaced dot";
  }
  for (char c : local) {
    if (c != '.' && !is_atext(c)) {
      if (c == '@') {
        return "more than one '@'";
      }
      return std::string("local part contains '") + c + "'";
    }
  }
  if (domain.empty()) {
    return "empty domain after '@'";
  }
  if (domain.front() == '[') {
    return "address literals are not accepted";
  }
  const auto labels = split(domain, '.');
  if (labels.size() < 2) {
    return "domain has no dot";
  }
  for (const auto& label : labels) {
    if (label.empty()) {
      return "domain has an empty label";
    }
    if (label.size() > 63) {
      return "domain label longer than 63 characters";
    }
    if (label.front() == '-' || label.back() == '-') {
      return "domain label starts or ends with '-'";
    }
    for (char c : label) {
      if (!is_let_dig(c) && c != '-') {
        return std::string("domain contains '") + c + "'";
      }
    }
  }
  return std::nullopt;
}

std::string_view mailbox_domain(std::string_view address) {
  const auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string_view{} : address.substr(at + 1);
}

std::string normalise_mailbox(std::string_view address) {
  return to_lower_ascii(address);
}

} // namespace pecbatch::core
