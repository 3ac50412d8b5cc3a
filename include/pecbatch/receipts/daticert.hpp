#pragma once

#include <pecbatch/core/result.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pecbatch::receipts {

// One <destinatari> element: an address and its `tipo` ("certificato", the
// DTD default when the attribute is absent, or "esterno"; other values are
// kept as written, with a warning).
struct Recipient {
  std::string address;
  std::string tipo;
};

// The certification data of a PEC receipt or envelope (daticert.xml, RFC 6109
// §4.4). Every value is trimmed text as written in the XML, entities decoded;
// an element that is absent stays empty (never guessed), except the two
// attributes whose DTD gives a default (`errore` = "nessuno",
// `destinatari/@tipo` = "certificato").
struct Daticert {
  // Which MIME part held it: "daticert.xml", "certdata.xml" or the name (or
  // "application/xml part") of the last-resort part whose root is postacert.
  std::string source;

  std::optional<std::string> tipo;   // postacert/@tipo
  std::optional<std::string> errore; // postacert/@errore
  // intestazione
  std::optional<std::string> mittente;
  std::vector<Recipient> destinatari;
  std::optional<std::string> risposte;
  std::optional<std::string> oggetto;
  // dati
  std::optional<std::string> gestore_emittente;
  // dati/data: zona + giorno + ora as ISO 8601 with the offset,
  // e.g. "2018-11-13T16:39:16+01:00"; absent when any piece is missing or
  // malformed (a warning says which).
  std::optional<std::string> time;
  std::optional<std::string> identificativo;
  // dati/msgid without its one pair of angle brackets.
  std::optional<std::string> msgid;
  std::optional<std::string> ricevuta; // dati/ricevuta/@tipo
  std::optional<std::string> consegna;
  std::vector<std::string> ricezione; // presa-in-carico only
  std::optional<std::string> errore_esteso;

  // The document's bytes as found in its MIME part after decoding the
  // transfer encoding (set by parse_message, kept as evidence).
  std::string xml;
};

// Parses a daticert.xml document with pugixml (no DTD processing: the
// DOCTYPE is skipped and no entity beyond the five predefined ones and
// character references is expanded; nothing is ever loaded). Tolerant:
// stray text, unknown or repeated elements and odd values are reported as
// warnings appended to `warnings`, and the first occurrence wins. Fails
// (kind `input`) only when the document is not well-formed XML or its root
// element is not `postacert`.
core::Result<Daticert> parse_daticert(std::string_view xml,
                                      std::vector<std::string>& warnings);

// Builds the ISO 8601 time of a daticert `data` element from its `zona`
// ("+0100", also accepted "+01:00"), `giorno` ("dd/mm/yyyy") and `ora`
// ("hh:mm:ss"): "yyyy-mm-ddThh:mm:ss+01:00". Returns nullopt when a piece
// is malformed or out of range.
std::optional<std::string> daticert_time(std::string_view zona, std::string_view giorno,
                                         std::string_view ora);

// Removes surrounding blanks and one pair of angle brackets: "<a@b>" -> "a@b".
std::string strip_angle_brackets(std::string_view id);

} // namespace pecbatch::receipts
