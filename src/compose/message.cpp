// compose_message(): the exact bytes of one certified message, built with
// GMime.
//
// How attachments avoid being encoded per message: AttachmentCache encodes
// each file once (76-column base64, CRLF). For each message, GMime writes the
// MIME skeleton in which every attachment part holds a short placeholder as
// its content; the placeholder is declared to GMime as already
// base64-encoded, so GMime copies it as is. The placeholders are then
// replaced by the cached base64 bodies: composing costs one copy of the
// encoded bytes. detail::AttachmentMode::gmime_encode is the naive path
// (GMime encodes the file itself) and gives the same bytes; the unit tests
// check that.
//
// Choices:
// * Date is written in UTC (+0000): the same spec gives the same bytes on
//   any machine, whatever its time zone.
// * Text bodies are UTF-8, quoted-printable, or base64 when GMime finds it
//   smaller (mostly non-Latin text). Never 7bit/8bit: with quoted-printable
//   or base64 no body line can start a MIME boundary ("=_" cannot occur in
//   either) and no line can exceed 76 octets.
// * Line ends of text bodies are normalised to CRLF, and a text body always
//   ends with a line end.
// * Blanks (space, tab) at either end of the subject are removed. A subject
//   holding "=?" is sent wholly as UTF-8 encoded words, because GMime would
//   leave that text as is and readers would decode it.
// * From and To must be bare mailboxes (core::mailbox_problem), so the To
//   header can only ever name one recipient.
// * Non-ASCII attachment names use RFC 2231 with UTF-8 (GMime alone would
//   pick ISO-8859-1 when it can); ASCII names stay plain `filename=`.
// * `X-Mailer: pecbatch <version>` is the only header beyond the required
//   ones.

#include "compose_detail.hpp"

#include <pecbatch/compose/message.hpp>
#include <pecbatch/core/address.hpp>
#include <pecbatch/core/file.hpp>
#include <pecbatch/core/hash.hpp>
#include <pecbatch/core/strings.hpp>

#include <gmime/gmime.h>

#include <memory>
#include <mutex>
#include <string_view>
#include <utility>

namespace pecbatch::compose {

namespace {

constexpr std::string_view k_header_end = "\r\n\r\n";
constexpr std::string_view k_splice_prefix = "=_pecbatch_splice_";
constexpr std::size_t k_max_line_octets = 998;

} // namespace

const char* to_string(ReceiptType type) {
  switch (type) {
  case ReceiptType::completa:
    return "completa";
  case ReceiptType::breve:
    return "breve";
  case ReceiptType::sintetica:
    return "sintetica";
  }
  return "completa";
}

std::optional<ReceiptType> parse_receipt_type(std::string_view text) {
  const std::string word = core::to_lower_ascii(core::trim(text));
  for (const auto type :
       {ReceiptType::completa, ReceiptType::breve, ReceiptType::sintetica}) {
    if (word == to_string(type)) {
      return type;
    }
  }
  return std::nullopt;
}

namespace detail {

namespace {

// Releases a GObject reference.
struct GObjectUnref {
  void operator()(gpointer object) const {
    if (object != nullptr) {
      g_object_unref(object);
    }
  }
};

template <typename T> using GPtr = std::unique_ptr<T, GObjectUnref>;

struct FormatOptionsFree {
  void operator()(GMimeFormatOptions* options) const {
    g_mime_format_options_free(options);
  }
};

core::Error input_error(std::string message) {
  return core::make_error(core::ErrorKind::input, std::move(message));
}

core::Error internal_error(std::string message) {
  return core::make_error(core::ErrorKind::internal, std::move(message));
}

bool has_line_break_or_nul(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) !=
         std::string_view::npos;
}

bool has_control_character(std::string_view value) {
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) {
      return true;
    }
  }
  return false;
}

bool is_ascii(std::string_view value) {
  for (const char c : value) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return false;
    }
  }
  return true;
}

core::Status check_header_value(std::string_view what, std::string_view value) {
  if (has_line_break_or_nul(value)) {
    return input_error(std::string(what) +
                       " contains a line break (CR or LF) or a NUL character: " +
                       core::quote(value));
  }
  return core::Ok{};
}

core::Status check_utf8(std::string_view what, std::string_view value) {
  if (const auto bad = core::find_invalid_utf8(value)) {
    return input_error(std::string(what) + " is not valid UTF-8 (byte " +
                       std::to_string(*bad + 1) + ")");
  }
  return core::Ok{};
}

core::Status check_mailbox(std::string_view what, std::string_view address) {
  PB_TRY(check_header_value(what, address));
  if (const auto problem = core::mailbox_problem(address)) {
    return input_error(std::string(what) + " " + core::quote(address) +
                       " is not a valid address: " + *problem);
  }
  return core::Ok{};
}

bool is_atext(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool is_dot_atom(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.' ||
      text.find("..") != std::string_view::npos) {
    return false;
  }
  for (const char c : text) {
    if (c != '.' && !is_atext(c)) {
      return false;
    }
  }
  return true;
}

core::Status check_message_id(std::string_view id) {
  PB_TRY(check_header_value("Message-ID", id));
  const auto at = id.find('@');
  if (at == std::string_view::npos || !is_dot_atom(id.substr(0, at)) ||
      !is_dot_atom(id.substr(at + 1))) {
    return input_error("Message-ID " + core::quote(id) +
                       " is not of the form left@right (dot-atoms, no "
                       "angle brackets)");
  }
  return core::Ok{};
}

core::Status check_attachment(const EncodedAttachment* attachment) {
  if (attachment == nullptr) {
    return internal_error("message spec holds a null attachment");
  }
  const std::string& name = attachment->filename;
  PB_TRY(check_header_value("attachment file name", name));
  if (name.empty()) {
    return input_error("attachment " + core::quote(attachment->path.string()) +
                       " has an empty file name");
  }
  if (has_control_character(name)) {
    return input_error("attachment file name " + core::quote(name) +
                       " contains a control character");
  }
  PB_TRY(check_utf8("attachment file name " + core::quote(name), name));
  const std::string& type = attachment->content_type;
  const auto slash = type.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == type.size() ||
      has_control_character(type) || type.find_first_of(" ;\"") != std::string::npos) {
    return internal_error("attachment " + core::quote(name) +
                          " has an invalid content type " + core::quote(type));
  }
  if (attachment->base64.size() != base64_lines_size(attachment->size)) {
    return internal_error("attachment " + core::quote(name) +
                          ": encoded body does not match its size of " +
                          std::to_string(attachment->size) + " bytes");
  }
  return core::Ok{};
}

core::Status check_spec(const MessageSpec& spec) {
  PB_TRY(check_mailbox("From address", spec.from));
  PB_TRY(check_mailbox("To address", spec.to));
  PB_TRY(check_header_value("subject", spec.subject));
  PB_TRY(check_utf8("subject", spec.subject));
  PB_TRY(check_utf8("text body", spec.text));
  if (spec.html) {
    PB_TRY(check_utf8("HTML body", *spec.html));
  }
  PB_TRY(check_message_id(spec.message_id));
  for (const auto& attachment : spec.attachments) {
    PB_TRY(check_attachment(attachment.get()));
  }
  return core::Ok{};
}

// `text` with every line end (CRLF, CR or LF) as `newline`, ending with one.
std::string normalise_newlines(std::string_view text, std::string_view newline) {
  std::string out;
  out.reserve(text.size() + text.size() / 32 + 2);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') {
        ++i;
      }
      out += newline;
    } else if (c == '\n') {
      out += newline;
    } else {
      out += c;
    }
  }
  if (!out.empty() && !out.ends_with(newline)) {
    out += newline;
  }
  return out;
}

GPtr<GMimeDataWrapper> make_content(std::string_view bytes,
                                    GMimeContentEncoding encoding) {
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(
      reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  return GPtr<GMimeDataWrapper>(
      g_mime_data_wrapper_new_with_stream(stream.get(), encoding));
}

GPtr<GMimePart> make_text_part(const char* subtype, std::string_view text) {
  GPtr<GMimePart> part(g_mime_part_new_with_type("text", subtype));
  g_mime_object_set_content_type_parameter(GMIME_OBJECT(part.get()), "charset",
                                           "utf-8");
  const std::string lf_text = normalise_newlines(text, "\n");
  g_mime_part_set_content(
      part.get(), make_content(lf_text, GMIME_CONTENT_ENCODING_DEFAULT).get());
  GMimeContentEncoding encoding = g_mime_part_get_best_content_encoding(
      part.get(), GMIME_ENCODING_CONSTRAINT_7BIT);
  if (encoding == GMIME_CONTENT_ENCODING_BASE64) {
    // base64 carries the canonical form of text, with CRLF line ends (the
    // quoted-printable encoder writes its line ends itself).
    g_mime_part_set_content(
        part.get(), make_content(normalise_newlines(text, "\r\n"),
                                 GMIME_CONTENT_ENCODING_DEFAULT)
                        .get());
  } else {
    encoding = GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
  }
  g_mime_part_set_content_encoding(part.get(), encoding);
  return part;
}

void set_parameter(GMimeParamList* list, const char* name,
                   const std::string& value) {
  g_mime_param_list_set_parameter(list, name, value.c_str());
  if (!is_ascii(value)) {
    // GMime would pick ISO-8859-1 for names it can hold; UTF-8 everywhere is
    // simpler for every reader.
    g_mime_param_set_charset(g_mime_param_list_get_parameter(list, name),
                             "utf-8");
  }
}

std::string splice_placeholder(std::size_t index) {
  return std::string(k_splice_prefix) + std::to_string(index) + "_=";
}

core::Result<GPtr<GMimePart>> make_attachment_part(const EncodedAttachment& attachment,
                                                   std::size_t index,
                                                   AttachmentMode mode) {
  const auto slash = attachment.content_type.find('/');
  const std::string type = attachment.content_type.substr(0, slash);
  const std::string subtype = attachment.content_type.substr(slash + 1);
  GPtr<GMimePart> part(g_mime_part_new_with_type(type.c_str(), subtype.c_str()));

  GPtr<GMimeContentDisposition> disposition(g_mime_content_disposition_new());
  g_mime_content_disposition_set_disposition(disposition.get(),
                                             GMIME_DISPOSITION_ATTACHMENT);
  set_parameter(g_mime_content_disposition_get_parameters(disposition.get()),
                "filename", attachment.filename);
  g_mime_object_set_content_disposition(GMIME_OBJECT(part.get()),
                                        disposition.get());
  set_parameter(g_mime_content_type_get_parameters(
                    g_mime_object_get_content_type(GMIME_OBJECT(part.get()))),
                "name", attachment.filename);

  if (mode == AttachmentMode::splice) {
    // Declared as already base64, so GMime copies it untouched.
    g_mime_part_set_content(part.get(),
                            make_content(splice_placeholder(index),
                                         GMIME_CONTENT_ENCODING_BASE64)
                                .get());
  } else {
    PB_TRY_ASSIGN(const std::string bytes, core::read_file(attachment.path));
    g_mime_part_set_content(
        part.get(), make_content(bytes, GMIME_CONTENT_ENCODING_DEFAULT).get());
  }
  g_mime_part_set_content_encoding(part.get(), GMIME_CONTENT_ENCODING_BASE64);
  return part;
}

// The Subject header value for subjects that GMime would mangle: its RFC 2047
// encoder leaves text that looks like an encoded word ("=?...?=") as is, so
// readers would decode it. Here the whole subject becomes UTF-8 "B" encoded
// words of at most 60 characters, folded one per line, split between
// characters. Returns the raw value: leading space, folds, final LF.
std::string encode_whole_subject(std::string_view subject) {
  constexpr std::size_t k_max_bytes = 36; // 48 base64 characters per word
  std::string raw;
  std::size_t pos = 0;
  while (pos < subject.size()) {
    std::size_t end = std::min(subject.size(), pos + k_max_bytes);
    // Do not split a UTF-8 sequence: back up over continuation bytes.
    while (end < subject.size() && end > pos + 1 &&
           (static_cast<unsigned char>(subject[end]) & 0xC0) == 0x80) {
      --end;
    }
    std::string encoded = encode_base64_lines(subject.substr(pos, end - pos));
    encoded.resize(encoded.size() - 2); // one line: drop its CRLF
    raw += pos == 0 ? " " : "\n ";
    raw += "=?UTF-8?B?" + encoded + "?=";
    pos = end;
  }
  raw += "\n";
  return raw;
}

// Blanks at either end of a subject do not survive the wire (GMime drops
// trailing ones, readers strip them): they are removed, so that what is sent
// is what is said to be sent.
std::string_view trim_blanks(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

void set_subject(GMimeMessage* message, std::string_view untrimmed) {
  const std::string subject(trim_blanks(untrimmed));
  g_mime_message_set_subject(message, subject.c_str(), "utf-8");
  if (subject.find("=?") != std::string::npos) {
    GMimeHeader* header = g_mime_header_list_get_header(
        g_mime_object_get_header_list(GMIME_OBJECT(message)), "Subject");
    g_mime_header_set_raw_value(header, encode_whole_subject(subject).c_str());
  }
}

// Checks what GMime wrote: CRLF line ends only, no line over 998 octets.
core::Status check_wire_format(std::string_view bytes) {
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c == '\r') {
      if (i + 1 >= bytes.size() || bytes[i + 1] != '\n') {
        return internal_error("composed message has a bare CR at byte " +
                              std::to_string(i));
      }
    } else if (c == '\n') {
      if (i == 0 || bytes[i - 1] != '\r') {
        return internal_error("composed message has a bare LF at byte " +
                              std::to_string(i));
      }
      if (i - 1 - line_start > k_max_line_octets) {
        return internal_error("composed message has a line of " +
                              std::to_string(i - 1 - line_start) + " octets");
      }
      line_start = i + 1;
    }
  }
  if (bytes.size() - line_start > k_max_line_octets) {
    return internal_error("composed message has a line over 998 octets");
  }
  return core::Ok{};
}

// Finds each attachment's placeholder in `skeleton` and returns the size of
// the message with the placeholders replaced by the base64 bodies; appends
// that message to `out` when given.
core::Result<std::size_t> splice_attachments(std::string_view skeleton,
                                             const MessageSpec& spec, std::string* out) {
  std::size_t total = skeleton.size();
  for (const auto& attachment : spec.attachments) {
    total += attachment->base64.size();
  }
  if (out != nullptr) {
    out->reserve(out->size() + total);
  }
  std::size_t size = 0;
  std::size_t from = 0;
  for (std::size_t i = 0; i < spec.attachments.size(); ++i) {
    // A placeholder is the whole body of a part, so it follows the blank line
    // ending the part's headers. "\r\n\r\n=_" occurs nowhere else: headers
    // hold no blank line, and "=_" cannot occur in quoted-printable or
    // base64 bodies.
    const std::string needle =
        std::string(k_header_end) + splice_placeholder(i) + "\r\n";
    const auto found = skeleton.find(needle, from);
    if (found == std::string_view::npos) {
      return internal_error("attachment placeholder " + std::to_string(i) +
                            " not found in the MIME skeleton");
    }
    const std::size_t body = found + k_header_end.size();
    const auto& base64 = spec.attachments[i]->base64;
    size += body - from + base64.size();
    if (out != nullptr) {
      out->append(skeleton.substr(from, body - from));
      out->append(base64);
    }
    // GMime ends a body with CRLF before the boundary line; the cached base64
    // ends with its own CRLF, as GMime's encoder does.
    from = body + splice_placeholder(i).size();
  }
  size += skeleton.size() - from;
  if (out != nullptr) {
    out->append(skeleton.substr(from));
  }
  return size;
}

} // namespace

void ensure_gmime_initialised() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

std::string boundary_for(std::string_view message_id, int n) {
  return "=_pecbatch_" + core::sha256_hex(message_id).substr(0, 24) + "_" +
         std::to_string(n);
}

namespace {

// A multipart whose content type carries its (deterministic) boundary from
// the start: g_mime_multipart_new_with_subtype() would first make a random
// one, opening /dev/urandom for every message.
GMimeMultipart* new_multipart(const char* subtype, const std::string& boundary) {
  auto* multipart = static_cast<GMimeMultipart*>(g_object_new(GMIME_TYPE_MULTIPART, nullptr));
  GMimeContentType* type = g_mime_content_type_new("multipart", subtype);
  g_mime_content_type_set_parameter(type, "boundary", boundary.c_str());
  g_mime_object_set_content_type(GMIME_OBJECT(multipart), type);
  g_object_unref(type);
  g_mime_multipart_set_boundary(multipart, boundary.c_str());
  return multipart;
}

} // namespace

namespace {

// The message as GMime writes it: in `splice` mode with a placeholder for
// each attachment's body.
core::Result<std::string> compose_skeleton(const MessageSpec& spec, AttachmentMode mode) {
  PB_TRY(check_spec(spec));
  ensure_gmime_initialised();

  GPtr<GMimeMessage> message(g_mime_message_new(FALSE));
  GMimeObject* message_object = GMIME_OBJECT(message.get());
  // Headers in the order they are written.
  g_mime_message_add_mailbox(message.get(), GMIME_ADDRESS_TYPE_FROM, nullptr,
                             spec.from.c_str());
  g_mime_message_add_mailbox(message.get(), GMIME_ADDRESS_TYPE_TO, nullptr,
                             spec.to.c_str());
  set_subject(message.get(), spec.subject);
  GDateTime* date = g_date_time_new_from_unix_utc(static_cast<gint64>(spec.date));
  if (date == nullptr) {
    return input_error("date " + std::to_string(spec.date) + " is out of range");
  }
  g_mime_message_set_date(message.get(), date);
  g_date_time_unref(date);
  g_mime_object_set_header(message_object, "Message-ID",
                           ("<" + spec.message_id + ">").c_str(), nullptr);
  g_mime_object_set_header(message_object, "MIME-Version", "1.0", nullptr);
  g_mime_object_set_header(message_object, "X-TipoRicevuta",
                           to_string(spec.receipt), nullptr);
  g_mime_object_set_header(message_object, "X-Mailer",
                           "pecbatch " PECBATCH_VERSION, nullptr);

  GPtr<GMimeObject> body(GMIME_OBJECT(make_text_part("plain", spec.text).release()));
  if (spec.html) {
    GPtr<GMimeMultipart> alternative(
        new_multipart("alternative", boundary_for(spec.message_id, 2)));
    g_mime_multipart_add(alternative.get(), body.get());
    const auto html = make_text_part("html", *spec.html);
    g_mime_multipart_add(alternative.get(), GMIME_OBJECT(html.get()));
    body.reset(GMIME_OBJECT(alternative.release()));
  }
  if (!spec.attachments.empty()) {
    GPtr<GMimeMultipart> mixed(new_multipart("mixed", boundary_for(spec.message_id, 1)));
    g_mime_multipart_add(mixed.get(), body.get());
    for (std::size_t i = 0; i < spec.attachments.size(); ++i) {
      PB_TRY_ASSIGN(const auto part,
                    make_attachment_part(*spec.attachments[i], i, mode));
      g_mime_multipart_add(mixed.get(), GMIME_OBJECT(part.get()));
    }
    body.reset(GMIME_OBJECT(mixed.release()));
  }
  g_mime_message_set_mime_part(message.get(), body.get());

  const std::unique_ptr<GMimeFormatOptions, FormatOptionsFree> options(
      g_mime_format_options_new());
  g_mime_format_options_set_newline_format(options.get(), GMIME_NEWLINE_FORMAT_DOS);
  g_mime_format_options_set_param_encoding_method(
      options.get(), GMIME_PARAM_ENCODING_METHOD_RFC2231);
  GPtr<GMimeStream> stream(g_mime_stream_mem_new());
  if (g_mime_object_write_to_stream(message_object, options.get(), stream.get()) < 0) {
    return internal_error("GMime failed to write the message");
  }
  const GByteArray* array = g_mime_stream_mem_get_byte_array(
      GMIME_STREAM_MEM(stream.get()));
  std::string skeleton(reinterpret_cast<const char*>(array->data), array->len);
  PB_TRY(check_wire_format(skeleton));
  // The attachments' base64 (spliced in) ends with CRLF, so the message
  // ends as its skeleton does.
  if (!skeleton.ends_with("\r\n")) {
    skeleton += "\r\n";
  }
  return skeleton;
}

} // namespace

core::Result<std::string> compose_message(const MessageSpec& spec,
                                          AttachmentMode mode) {
  PB_TRY_ASSIGN(auto skeleton, compose_skeleton(spec, mode));
  if (mode != AttachmentMode::splice || spec.attachments.empty()) {
    return skeleton;
  }
  std::string out;
  PB_TRY(splice_attachments(skeleton, spec, &out));
  return out;
}

} // namespace detail

core::Result<std::string> compose_message(const MessageSpec& spec) {
  return detail::compose_message(spec, detail::AttachmentMode::splice);
}

core::Result<std::uint64_t> composed_size(const MessageSpec& spec) {
  PB_TRY_ASSIGN(const auto skeleton,
                detail::compose_skeleton(spec, detail::AttachmentMode::splice));
  PB_TRY_ASSIGN(const auto size, detail::splice_attachments(skeleton, spec, nullptr));
  return static_cast<std::uint64_t>(size);
}

std::string content_digest(const MessageSpec& spec) {
  core::Sha256 hasher;
  // Length-prefixed, so no two different specs feed the same bytes.
  const auto field = [&hasher](std::string_view value) {
    hasher.update(std::to_string(value.size()));
    hasher.update(":");
    hasher.update(value);
  };
  field("pecbatch-content-1");
  field(spec.from);
  field(spec.to);
  field(spec.subject);
  field(spec.text);
  field(spec.html ? "html" : "no-html");
  field(spec.html ? std::string_view(*spec.html) : std::string_view());
  field(std::to_string(spec.attachments.size()));
  for (const auto& attachment : spec.attachments) {
    if (attachment == nullptr) {  // refused by compose_message
      field("none");
      continue;
    }
    field(attachment->filename);
    field(attachment->content_type);
    field(std::to_string(attachment->size));
    field(attachment->sha256);
  }
  field(to_string(spec.receipt));
  field(spec.message_id);
  return "spec-sha256:" + hasher.finish_hex();
}

std::string make_message_id(const std::string& campaign_id,
                            const std::string& recipient,
                            const std::string& domain, unsigned generation) {
  // Characters outside a conservative dot-atom subset are replaced by '-',
  // so the id stays plain and its five dot-separated fields stay apart.
  const auto sanitise = [](std::string_view text, std::string_view extra) {
    std::string out(text);
    for (char& c : out) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '-' ||
                      extra.find(c) != std::string_view::npos;
      if (!ok) {
        c = '-';
      }
    }
    return out;
  };
  const std::string row_key =
      core::sha256_hex(core::normalise_mailbox(recipient)).substr(0, 20);
  return "pecbatch." + sanitise(campaign_id, "_") + "." + row_key + "." +
         std::to_string(generation) + "@" + sanitise(domain, ".");
}

} // namespace pecbatch::compose
