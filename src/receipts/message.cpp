// parse_message(): classification from the top-level headers, daticert from
// the signed part, and the S/MIME parts located in the raw bytes.
//
// GMime parses the MIME tree (headers, parts, transfer decoding). The bytes
// covered by the signature are NOT taken from GMime: they are located in
// the raw message by the top-level boundary (raw_mime.hpp), so that what is
// verified is exactly what was transmitted.

#include <pecbatch/core/strings.hpp>
#include <pecbatch/receipts/message.hpp>

#include "raw_mime.hpp"

#include <gmime/gmime.h>

#include <array>
#include <memory>
#include <mutex>
#include <utility>

namespace pecbatch::receipts {

namespace {

struct GObjectUnref {
  void operator()(gpointer object) const {
    if (object != nullptr) {
      g_object_unref(object);
    }
  }
};

template <typename T> using GPtr = std::unique_ptr<T, GObjectUnref>;

void ensure_gmime_initialised() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

struct KindName {
  Kind kind;
  const char* name;
};

constexpr std::array<KindName, 8> k_kind_names = {{
    {Kind::accettazione, "accettazione"},
    {Kind::non_accettazione, "non-accettazione"},
    {Kind::presa_in_carico, "presa-in-carico"},
    {Kind::avvenuta_consegna, "avvenuta-consegna"},
    {Kind::errore_consegna, "errore-consegna"},
    {Kind::preavviso_errore_consegna, "preavviso-errore-consegna"},
    {Kind::rilevazione_virus, "rilevazione-virus"},
    {Kind::posta_certificata, "posta-certificata"},
}};

std::optional<std::string> header_value(GMimeObject* object, const char* name) {
  const char* value = g_mime_object_get_header(object, name);
  if (value == nullptr) {
    return std::nullopt;
  }
  return std::string(core::trim(value));
}

// The decoded content of a leaf part.
std::string decoded_content(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) {
    return {};
  }
  GPtr<GMimeStream> out(g_mime_stream_mem_new());
  g_mime_data_wrapper_write_to_stream(content, out.get());
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

// The leaf parts under `object`, in order, not descending into attached
// messages (message/rfc822: postacert.eml, or the wrapped message of an
// anomaly envelope, whose daticert is not ours).
void collect_leaves(GMimeObject* object, std::vector<GMimePart*>& out) {
  if (GMIME_IS_MULTIPART(object)) {
    auto* multipart = GMIME_MULTIPART(object);
    const int count = g_mime_multipart_get_count(multipart);
    for (int i = 0; i < count; ++i) {
      collect_leaves(g_mime_multipart_get_part(multipart, i), out);
    }
  } else if (GMIME_IS_PART(object)) {
    out.push_back(GMIME_PART(object));
  }
}

std::string lower_filename(GMimePart* part) {
  const char* name = g_mime_part_get_filename(part);
  return name == nullptr ? std::string() : core::to_lower_ascii(core::trim(name));
}

bool is_xml_part(GMimePart* part) {
  GMimeContentType* type = g_mime_object_get_content_type(GMIME_OBJECT(part));
  return type != nullptr && (g_mime_content_type_is_type(type, "application", "xml") ||
                             g_mime_content_type_is_type(type, "text", "xml"));
}

// Finds and parses the certification data under `root`: daticert.xml first,
// then certdata.xml (RFC 6109's name), then any XML part whose root is
// postacert.
std::optional<Daticert> find_daticert(GMimeObject* root,
                                      std::vector<std::string>& warnings) {
  std::vector<GMimePart*> leaves;
  collect_leaves(root, leaves);
  for (const char* wanted : {"daticert.xml", "certdata.xml"}) {
    std::vector<GMimePart*> matches;
    for (auto* part : leaves) {
      if (lower_filename(part) == wanted) {
        matches.push_back(part);
      }
    }
    if (matches.empty()) {
      continue;
    }
    if (matches.size() > 1) {
      warnings.push_back(std::to_string(matches.size()) + " parts named " + wanted +
                         "; the first one is used");
    }
    std::vector<std::string> xml_warnings;
    std::string xml = decoded_content(matches.front());
    auto parsed = parse_daticert(xml, xml_warnings);
    warnings.insert(warnings.end(), xml_warnings.begin(), xml_warnings.end());
    if (!parsed) {
      warnings.push_back(parsed.error().message + "; no certification data");
      return std::nullopt;
    }
    parsed->source = wanted;
    parsed->xml = std::move(xml);
    return std::move(parsed).value();
  }
  for (auto* part : leaves) {
    if (!is_xml_part(part)) {
      continue;
    }
    std::vector<std::string> xml_warnings;
    std::string xml = decoded_content(part);
    auto parsed = parse_daticert(xml, xml_warnings);
    if (!parsed) {
      continue;
    }
    parsed->xml = std::move(xml);
    const auto name = lower_filename(part);
    parsed->source = name.empty() ? "application/xml part" : name;
    warnings.push_back("certification data found in " + core::quote(parsed->source) +
                       " (not named daticert.xml)");
    warnings.insert(warnings.end(), xml_warnings.begin(), xml_warnings.end());
    return std::move(parsed).value();
  }
  return std::nullopt;
}

std::string lower_parameter(GMimeObject* object, const char* name) {
  const char* value = g_mime_object_get_content_type_parameter(object, name);
  return value == nullptr ? std::string() : core::to_lower_ascii(core::trim(value));
}

SignedEntity read_signed_entity(std::string_view raw, GMimeObject* top) {
  SignedEntity entity;
  entity.protocol = lower_parameter(top, "protocol");
  entity.micalg = lower_parameter(top, "micalg");
  auto* multipart = GMIME_MULTIPART(top);
  const char* boundary = g_mime_multipart_get_boundary(multipart);
  if (boundary != nullptr) {
    entity.content = detail::first_body_part(raw, detail::body_offset(raw), boundary);
  }
  if (g_mime_multipart_get_count(multipart) < 2) {
    entity.problem = "no signature part (the message ends inside the signed part)";
    return entity;
  }
  if (!entity.content) {
    entity.problem = "the signed part cannot be delimited by its boundary";
    return entity;
  }
  GMimeObject* second = g_mime_multipart_get_part(multipart, 1);
  GMimeContentType* type = g_mime_object_get_content_type(second);
  const bool pkcs7 =
      type != nullptr &&
      (g_mime_content_type_is_type(type, "application", "pkcs7-signature") ||
       g_mime_content_type_is_type(type, "application", "x-pkcs7-signature"));
  if (!GMIME_IS_PART(second) || !pkcs7) {
    char* text = type != nullptr ? g_mime_content_type_get_mime_type(type) : nullptr;
    entity.problem = std::string("the signature part is not S/MIME (") +
                     (text != nullptr ? text : "no type") + ")";
    g_free(text);
    return entity;
  }
  entity.signature = decoded_content(GMIME_PART(second));
  if (entity.signature->empty()) {
    entity.signature.reset();
    entity.problem = "empty signature part";
  }
  return entity;
}

void read_headers(GMimeMessage* message, Headers& headers) {
  auto* object = GMIME_OBJECT(message);
  headers.x_ricevuta = header_value(object, "X-Ricevuta");
  headers.x_trasporto = header_value(object, "X-Trasporto");
  if (auto id = header_value(object, "X-Riferimento-Message-ID")) {
    headers.x_riferimento_message_id = strip_angle_brackets(*id);
  }
  headers.x_tipo_ricevuta = header_value(object, "X-TipoRicevuta");
  headers.x_verifica_sicurezza = header_value(object, "X-VerificaSicurezza");
  headers.subject = header_value(object, "Subject");
  headers.date = header_value(object, "Date");
  if (const char* id = g_mime_message_get_message_id(message)) {
    headers.message_id = strip_angle_brackets(id);
  }
  if (GDateTime* date = g_mime_message_get_date(message)) {
    headers.date_unix = g_date_time_to_unix(date);
  }
  if (InternetAddressList* from = g_mime_message_get_from(message)) {
    const int count = internet_address_list_length(from);
    for (int i = 0; i < count; ++i) {
      InternetAddress* address = internet_address_list_get_address(from, i);
      if (INTERNET_ADDRESS_IS_MAILBOX(address)) {
        const char* addr =
            internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address));
        if (addr != nullptr && *addr != '\0') {
          headers.from_address = std::string(addr);
          break;
        }
      }
    }
  }
}

// Cross-checks the unsigned headers against the signed daticert and decides
// kind and msgid (daticert wins).
void reconcile(ParsedMessage& msg, const Classification& classification) {
  auto& warnings = msg.warnings;
  const auto& headers = msg.headers;
  const bool pec = msg.message_class == MessageClass::receipt ||
                   msg.message_class == MessageClass::envelope;
  msg.kind = classification.header_kind;
  if (!msg.daticert) {
    if (pec) {
      warnings.emplace_back(msg.signed_entity ? "no daticert.xml in the signed part"
                                              : "no daticert.xml");
    }
  } else {
    const auto& dc = *msg.daticert;
    if (!pec) {
      warnings.push_back(std::string("certification data in a message classified as ") +
                         to_string(msg.message_class));
    }
    const auto dc_kind = dc.tipo ? parse_kind(*dc.tipo) : std::nullopt;
    if (dc_kind) {
      if (msg.message_class == MessageClass::receipt && headers.x_ricevuta &&
          classification.header_kind != dc_kind) {
        warnings.push_back("X-Ricevuta " + core::quote(*headers.x_ricevuta) +
                           " disagrees with daticert tipo " + core::quote(*dc.tipo) +
                           "; daticert wins");
      } else if (msg.message_class == MessageClass::envelope &&
                 *dc_kind != Kind::posta_certificata) {
        warnings.push_back("transport envelope whose daticert tipo is " +
                           core::quote(*dc.tipo) + "; daticert wins");
      }
      msg.kind = dc_kind;
    }
    if (dc.msgid && headers.x_riferimento_message_id &&
        *dc.msgid != *headers.x_riferimento_message_id) {
      warnings.push_back(
          "X-Riferimento-Message-ID " + core::quote(*headers.x_riferimento_message_id) +
          " disagrees with daticert msgid " + core::quote(*dc.msgid) + "; daticert wins");
    }
    if (dc.consegna) {
      bool listed = false;
      for (const auto& r : dc.destinatari) {
        listed = listed || core::iequals_ascii(r.address, *dc.consegna);
      }
      if (!listed) {
        warnings.push_back("daticert consegna " + core::quote(*dc.consegna) +
                           " is not among the destinatari");
      }
    }
    msg.msgid = dc.msgid;
  }
  if (!msg.msgid && headers.x_riferimento_message_id &&
      !headers.x_riferimento_message_id->empty()) {
    msg.msgid = headers.x_riferimento_message_id;
    if (pec) {
      warnings.emplace_back(
          "msgid taken from the X-Riferimento-Message-ID header (not covered by the "
          "signature)");
    }
  }
}

} // namespace

const char* to_string(MessageClass message_class) {
  switch (message_class) {
  case MessageClass::receipt:
    return "receipt";
  case MessageClass::envelope:
    return "envelope";
  case MessageClass::anomaly:
    return "anomaly";
  case MessageClass::other:
    return "other";
  }
  return "other";
}

const char* to_string(Kind kind) {
  for (const auto& entry : k_kind_names) {
    if (entry.kind == kind) {
      return entry.name;
    }
  }
  return "";
}

std::optional<Kind> parse_kind(std::string_view text) {
  const auto word = core::to_lower_ascii(core::trim(text));
  for (const auto& entry : k_kind_names) {
    if (word == entry.name) {
      return entry.kind;
    }
  }
  return std::nullopt;
}

Classification classify_headers(std::optional<std::string_view> x_ricevuta,
                                std::optional<std::string_view> x_trasporto) {
  Classification result;
  if (x_ricevuta) {
    result.message_class = MessageClass::receipt;
    result.header_kind = parse_kind(*x_ricevuta);
    if (!result.header_kind || *result.header_kind == Kind::posta_certificata) {
      result.header_kind.reset();
      result.warnings.push_back("unknown X-Ricevuta value " + core::quote(*x_ricevuta));
    }
    if (x_trasporto) {
      result.warnings.push_back(
          "both X-Ricevuta and X-Trasporto present; X-Ricevuta wins");
    }
    return result;
  }
  if (x_trasporto) {
    const auto value = core::to_lower_ascii(core::trim(*x_trasporto));
    if (value == "posta-certificata") {
      result.message_class = MessageClass::envelope;
      result.header_kind = Kind::posta_certificata;
    } else if (value == "errore") {
      result.message_class = MessageClass::anomaly;
    } else {
      result.warnings.push_back("unknown X-Trasporto value " + core::quote(*x_trasporto));
    }
  }
  return result;
}

std::string_view ParsedMessage::signed_content() const {
  if (!signed_entity || !signed_entity->content) {
    return {};
  }
  return std::string_view(raw).substr(signed_entity->content->offset,
                                      signed_entity->content->size);
}

core::Result<ParsedMessage> parse_message(std::string raw) {
  if (raw.empty()) {
    return core::make_error(core::ErrorKind::input, "empty file: not a mail message");
  }
  if (!detail::starts_with_header_field(raw)) {
    return core::make_error(core::ErrorKind::input,
                            "not a mail message: the first line is not a header field");
  }
  ensure_gmime_initialised();

  ParsedMessage msg;
  msg.raw = std::move(raw);
  msg.bare_lf = detail::first_line_bare_lf(msg.raw);

  GPtr<GMimeStream> stream(
      g_mime_stream_mem_new_with_buffer(msg.raw.data(), msg.raw.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  GPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!message) {
    return core::make_error(core::ErrorKind::input,
                            "not a mail message: no header section");
  }

  read_headers(message.get(), msg.headers);
  const auto classification =
      classify_headers(msg.headers.x_ricevuta, msg.headers.x_trasporto);
  msg.message_class = classification.message_class;
  msg.warnings = classification.warnings;

  GMimeObject* top = g_mime_message_get_mime_part(message.get());
  GMimeObject* search_root = top;
  if (top != nullptr && GMIME_IS_MULTIPART_SIGNED(top)) {
    msg.signed_entity = read_signed_entity(msg.raw, top);
    auto* multipart = GMIME_MULTIPART(top);
    search_root = g_mime_multipart_get_count(multipart) > 0
                      ? g_mime_multipart_get_part(multipart, 0)
                      : nullptr;
  }
  if (search_root != nullptr) {
    msg.daticert = find_daticert(search_root, msg.warnings);
  }
  reconcile(msg, classification);
  return msg;
}

} // namespace pecbatch::receipts
