// daticert.xml (RFC 6109 §4.4, DM 2/11/2005 allegato): a tolerant reader.
//
// The DTD is not validated: real and anonymised producers add stray text or
// repeat elements. Whatever departs from the DTD is a warning, and the first
// occurrence of an element wins.

#include <pecbatch/core/strings.hpp>
#include <pecbatch/receipts/daticert.hpp>

#include <pugixml.hpp>

#include <array>
#include <string>

namespace pecbatch::receipts {

namespace {

constexpr std::array k_tipo_values = {
    "accettazione",
    "non-accettazione",
    "presa-in-carico",
    "avvenuta-consegna",
    "posta-certificata",
    "errore-consegna",
    "preavviso-errore-consegna",
    "rilevazione-virus",
};
constexpr std::array k_errore_values = {"nessuno", "no-dest", "no-dominio", "virus",
                                        "altro"};
constexpr std::array k_ricevuta_values = {"completa", "breve", "sintetica"};
constexpr std::array k_destinatari_values = {"certificato", "esterno"};

template <std::size_t N>
bool is_one_of(std::string_view value, const std::array<const char*, N>& values) {
  for (const char* v : values) {
    if (value == v) {
      return true;
    }
  }
  return false;
}

// Collects the warnings of one document, each prefixed with the file name.
class Reader {
public:
  explicit Reader(std::vector<std::string>& warnings) : m_warnings(warnings) {}

  void warn(const std::string& message) {
    m_warnings.push_back("daticert.xml: " + message);
  }

  // The trimmed text of a leaf element (its text and CDATA children).
  std::string leaf_text(const pugi::xml_node& node) {
    std::string text;
    bool nested = false;
    for (const auto& child : node.children()) {
      if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
        text += child.value();
      } else if (child.type() == pugi::node_element) {
        nested = true;
      }
    }
    if (nested) {
      warn(std::string("unexpected elements inside <") + node.name() + ">");
    }
    return std::string(core::trim(text));
  }

  // Warns about non-blank text directly inside a structural element.
  void check_stray_text(const pugi::xml_node& node) {
    for (const auto& child : node.children()) {
      if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) {
        const auto text = core::trim(child.value());
        if (!text.empty()) {
          warn("stray text " + core::quote(text) + " in <" + node.name() + ">");
        }
      }
    }
  }

  // Stores the text of `node` into `slot` unless already set (then warns).
  // An empty text leaves the slot empty, except when `keep_empty`.
  void set_once(std::optional<std::string>& slot, const pugi::xml_node& node,
                bool keep_empty = false) {
    if (slot) {
      warn(std::string("repeated <") + node.name() + ">; the first one is used");
      return;
    }
    auto text = leaf_text(node);
    if (text.empty() && !keep_empty) {
      warn(std::string("empty <") + node.name() + ">");
      return;
    }
    slot = std::move(text);
  }

private:
  std::vector<std::string>& m_warnings;
};

void read_intestazione(Reader& reader, const pugi::xml_node& node, Daticert& out) {
  reader.check_stray_text(node);
  for (const auto& child : node.children()) {
    if (child.type() != pugi::node_element) {
      continue;
    }
    const std::string_view name = child.name();
    if (name == "mittente") {
      reader.set_once(out.mittente, child);
    } else if (name == "destinatari") {
      Recipient recipient;
      recipient.address = reader.leaf_text(child);
      const auto tipo = child.attribute("tipo");
      recipient.tipo = tipo ? std::string(core::trim(tipo.value())) : "certificato";
      if (!is_one_of(recipient.tipo, k_destinatari_values)) {
        reader.warn("unknown destinatari tipo " + core::quote(recipient.tipo));
      }
      if (recipient.address.empty()) {
        reader.warn("empty <destinatari>");
      } else {
        out.destinatari.push_back(std::move(recipient));
      }
    } else if (name == "risposte") {
      reader.set_once(out.risposte, child);
    } else if (name == "oggetto") {
      reader.set_once(out.oggetto, child, true);
    } else {
      reader.warn("unknown element <" + std::string(name) + "> in <intestazione>");
    }
  }
}

void read_data(Reader& reader, const pugi::xml_node& node, Daticert& out) {
  reader.check_stray_text(node);
  std::optional<std::string> giorno;
  std::optional<std::string> ora;
  for (const auto& child : node.children()) {
    if (child.type() != pugi::node_element) {
      continue;
    }
    const std::string_view name = child.name();
    if (name == "giorno") {
      reader.set_once(giorno, child);
    } else if (name == "ora") {
      reader.set_once(ora, child);
    } else {
      reader.warn("unknown element <" + std::string(name) + "> in <data>");
    }
  }
  const auto zona_attr = node.attribute("zona");
  if (!zona_attr) {
    reader.warn("<data> has no zona: time unknown");
    return;
  }
  if (!giorno || !ora) {
    reader.warn("<data> lacks <giorno> or <ora>: time unknown");
    return;
  }
  const std::string zona(core::trim(zona_attr.value()));
  out.time = daticert_time(zona, *giorno, *ora);
  if (!out.time) {
    reader.warn("malformed <data>: zona " + core::quote(zona) + ", giorno " +
                core::quote(*giorno) + ", ora " + core::quote(*ora));
  }
}

void read_dati(Reader& reader, const pugi::xml_node& node, Daticert& out) {
  reader.check_stray_text(node);
  bool seen_data = false;
  bool seen_ricevuta = false;
  for (const auto& child : node.children()) {
    if (child.type() != pugi::node_element) {
      continue;
    }
    const std::string_view name = child.name();
    if (name == "gestore-emittente") {
      reader.set_once(out.gestore_emittente, child);
    } else if (name == "data") {
      if (seen_data) {
        reader.warn("repeated <data>; the first one is used");
        continue;
      }
      seen_data = true;
      read_data(reader, child, out);
    } else if (name == "identificativo") {
      reader.set_once(out.identificativo, child);
    } else if (name == "msgid") {
      std::optional<std::string> msgid;
      reader.set_once(msgid, child);
      if (msgid && !out.msgid) {
        out.msgid = strip_angle_brackets(*msgid);
        if (out.msgid->empty()) {
          out.msgid.reset();
        }
      } else if (msgid) {
        reader.warn("repeated <msgid>; the first one is used");
      }
    } else if (name == "ricevuta") {
      if (seen_ricevuta) {
        reader.warn("repeated <ricevuta>; the first one is used");
        continue;
      }
      seen_ricevuta = true;
      const auto tipo = child.attribute("tipo");
      if (!tipo) {
        reader.warn("<ricevuta> without tipo");
        continue;
      }
      out.ricevuta = std::string(core::trim(tipo.value()));
      if (!is_one_of(*out.ricevuta, k_ricevuta_values)) {
        reader.warn("unknown ricevuta tipo " + core::quote(*out.ricevuta));
      }
    } else if (name == "consegna") {
      reader.set_once(out.consegna, child);
    } else if (name == "ricezione") {
      auto text = reader.leaf_text(child);
      if (!text.empty()) {
        out.ricezione.push_back(std::move(text));
      }
    } else if (name == "errore-esteso") {
      reader.set_once(out.errore_esteso, child, true);
    } else {
      reader.warn("unknown element <" + std::string(name) + "> in <dati>");
    }
  }
  if (!seen_data) {
    reader.warn("no <data>: time unknown");
  }
}

bool parse_number(std::string_view text, int& value) {
  if (text.empty()) {
    return false;
  }
  value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + (c - '0');
  }
  return true;
}

bool is_leap(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month) {
  constexpr std::array<int, 12> k_days = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : k_days[static_cast<std::size_t>(month - 1)];
}

} // namespace

std::string strip_angle_brackets(std::string_view id) {
  auto text = core::trim(id);
  if (text.size() >= 2 && text.front() == '<' && text.back() == '>') {
    text = core::trim(text.substr(1, text.size() - 2));
  }
  return std::string(text);
}

std::optional<std::string> daticert_time(std::string_view zona, std::string_view giorno,
                                         std::string_view ora) {
  zona = core::trim(zona);
  giorno = core::trim(giorno);
  ora = core::trim(ora);
  // zona: [+|-]hhmm or [+|-]hh:mm
  if (zona.size() != 5 && zona.size() != 6) {
    return std::nullopt;
  }
  if (zona[0] != '+' && zona[0] != '-') {
    return std::nullopt;
  }
  const auto zone_minutes = zona.size() == 6 ? zona.substr(4, 2) : zona.substr(3, 2);
  if (zona.size() == 6 && zona[3] != ':') {
    return std::nullopt;
  }
  int zone_h = 0;
  int zone_m = 0;
  if (!parse_number(zona.substr(1, 2), zone_h) || !parse_number(zone_minutes, zone_m) ||
      zone_h > 14 || zone_m > 59) {
    return std::nullopt;
  }
  // giorno: dd/mm/yyyy
  const auto day_parts = core::split(giorno, '/');
  int day = 0;
  int month = 0;
  int year = 0;
  if (day_parts.size() != 3 || day_parts[0].size() != 2 || day_parts[1].size() != 2 ||
      day_parts[2].size() != 4 || !parse_number(day_parts[0], day) ||
      !parse_number(day_parts[1], month) || !parse_number(day_parts[2], year) ||
      month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
    return std::nullopt;
  }
  // ora: hh:mm:ss
  const auto time_parts = core::split(ora, ':');
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (time_parts.size() != 3 || time_parts[0].size() != 2 || time_parts[1].size() != 2 ||
      time_parts[2].size() != 2 || !parse_number(time_parts[0], hour) ||
      !parse_number(time_parts[1], minute) || !parse_number(time_parts[2], second) ||
      hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  // Every piece was checked to be digits of the right width: reuse them.
  return day_parts[2] + "-" + day_parts[1] + "-" + day_parts[0] + "T" + std::string(ora) +
         zona[0] + std::string(zona.substr(1, 2)) + ":" + std::string(zone_minutes);
}

core::Result<Daticert> parse_daticert(std::string_view xml,
                                      std::vector<std::string>& warnings) {
  pugi::xml_document doc;
  // parse_default has no parse_doctype: a DOCTYPE is skipped, never
  // interpreted; pugixml expands only the predefined entities and character
  // references and never loads anything.
  const unsigned options = pugi::parse_default & ~pugi::parse_doctype;
  const auto parsed =
      doc.load_buffer(xml.data(), xml.size(), options, pugi::encoding_auto);
  if (!parsed) {
    return core::make_error(core::ErrorKind::input,
                            std::string("daticert.xml is not well-formed XML: ") +
                                parsed.description() + " at offset " +
                                std::to_string(parsed.offset));
  }
  const auto root = doc.document_element();
  if (std::string_view(root.name()) != "postacert") {
    return core::make_error(core::ErrorKind::input,
                            std::string("daticert.xml: root element is <") + root.name() +
                                ">, not <postacert>");
  }
  Reader reader(warnings);
  Daticert out;
  if (const auto tipo = root.attribute("tipo")) {
    out.tipo = std::string(core::trim(tipo.value()));
    if (!is_one_of(*out.tipo, k_tipo_values)) {
      reader.warn("unknown postacert tipo " + core::quote(*out.tipo));
    }
  } else {
    reader.warn("<postacert> has no tipo");
  }
  const auto errore = root.attribute("errore");
  out.errore = errore ? std::string(core::trim(errore.value())) : "nessuno";
  if (!is_one_of(*out.errore, k_errore_values)) {
    reader.warn("unknown postacert errore " + core::quote(*out.errore));
  }

  reader.check_stray_text(root);
  bool seen_intestazione = false;
  bool seen_dati = false;
  for (const auto& child : root.children()) {
    if (child.type() != pugi::node_element) {
      continue;
    }
    const std::string_view name = child.name();
    if (name == "intestazione" && !seen_intestazione) {
      seen_intestazione = true;
      read_intestazione(reader, child, out);
    } else if (name == "dati" && !seen_dati) {
      seen_dati = true;
      read_dati(reader, child, out);
    } else if (name == "intestazione" || name == "dati") {
      reader.warn("repeated <" + std::string(name) + ">; the first one is used");
    } else {
      reader.warn("unknown element <" + std::string(name) + "> in <postacert>");
    }
  }
  if (!seen_intestazione) {
    reader.warn("no <intestazione>");
  }
  if (!seen_dati) {
    reader.warn("no <dati>");
  }
  if (seen_intestazione && !out.mittente) {
    reader.warn("no <mittente>");
  }
  if (seen_intestazione && out.destinatari.empty()) {
    reader.warn("no <destinatari>");
  }
  if (seen_dati && !out.identificativo) {
    reader.warn("no <identificativo>");
  }
  for (auto sibling = root.next_sibling(); sibling; sibling = sibling.next_sibling()) {
    if (sibling.type() == pugi::node_element) {
      reader.warn("more than one root element; only <postacert> is read");
      break;
    }
  }
  return out;
}

} // namespace pecbatch::receipts
