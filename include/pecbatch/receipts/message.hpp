#pragma once

#include <pecbatch/core/result.hpp>
#include <pecbatch/receipts/daticert.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pecbatch::receipts {

// What a message found in a PEC mailbox is. Decided from its top-level
// headers only, never from the subject (PROTOCOL.md §5):
// `X-Ricevuta` present -> receipt; else `X-Trasporto: posta-certificata` ->
// envelope, `X-Trasporto: errore` -> anomaly; else other.
enum class MessageClass { receipt, envelope, anomaly, other };

// "receipt", "envelope", "anomaly", "other".
const char* to_string(MessageClass message_class);

// The PEC message kinds: the values of daticert `tipo` (which are also the
// values of `X-Ricevuta`, plus `posta-certificata` for transport envelopes).
enum class Kind {
  accettazione,
  non_accettazione,
  presa_in_carico,
  avvenuta_consegna,
  errore_consegna,
  preavviso_errore_consegna,
  rilevazione_virus,
  posta_certificata,
};

// The protocol spelling: "accettazione", "non-accettazione", ...
const char* to_string(Kind kind);
// Parses a protocol spelling (ASCII case and surrounding blanks ignored).
std::optional<Kind> parse_kind(std::string_view text);

// The result of classify_headers().
struct Classification {
  MessageClass message_class = MessageClass::other;
  // The kind the headers claim: the X-Ricevuta value for a receipt (absent
  // when it is not a known value), posta-certificata for an envelope.
  std::optional<Kind> header_kind;
  std::vector<std::string> warnings;
};

// Classifies from the values of the top-level `X-Ricevuta` and `X-Trasporto`
// headers (nullopt = header absent). An X-Trasporto value other than
// posta-certificata / errore gives `other` with a warning.
Classification classify_headers(std::optional<std::string_view> x_ricevuta,
                                std::optional<std::string_view> x_trasporto);

// The top-level headers that matter for PEC, unfolded and decoded (names
// matched case-insensitively). Outside the signature: routing only.
struct Headers {
  std::optional<std::string> x_ricevuta;
  std::optional<std::string> x_trasporto;
  // X-Riferimento-Message-ID without its angle brackets.
  std::optional<std::string> x_riferimento_message_id;
  std::optional<std::string> x_tipo_ricevuta;
  std::optional<std::string> x_verifica_sicurezza;
  // The addr-spec of the first mailbox in From.
  std::optional<std::string> from_address;
  std::optional<std::string> subject;
  std::optional<std::string> message_id; // without angle brackets
  std::optional<std::string> date;       // as written
  std::optional<std::int64_t> date_unix; // Date parsed, seconds since the epoch
};

// A span of ParsedMessage::raw.
struct ByteRange {
  std::size_t offset = 0;
  std::size_t size = 0;
};

// The S/MIME parts of a top-level multipart/signed entity.
struct SignedEntity {
  std::string protocol; // Content-Type protocol parameter, lower case
  std::string micalg;   // Content-Type micalg parameter, lower case
  // The first body part exactly as transmitted: from the line after the
  // first boundary delimiter up to, not including, the line break before the
  // next one (RFC 1847, RFC 2046). Absent when the delimiters are not found.
  std::optional<ByteRange> content;
  // The decoded (base64) bytes of the signature part, when there is a
  // second part of type application/(x-)pkcs7-signature.
  std::optional<std::string> signature;
  // Why `content` or `signature` is missing (empty when both are present).
  std::string problem;
};

// A message parsed for its PEC facts.
struct ParsedMessage {
  // The exact bytes given to parse_message(), kept for verification and
  // archiving (never re-serialised).
  std::string raw;
  MessageClass message_class = MessageClass::other;
  // The daticert `tipo` when known (daticert wins over X-Ricevuta);
  // otherwise the kind the headers claim (see Classification).
  std::optional<Kind> kind;
  Headers headers;
  // The certification data, from the signed part when the message is
  // multipart/signed, never from inside an attached message.
  std::optional<Daticert> daticert;
  // The original Message-ID (no angle brackets): daticert `msgid`, or the
  // X-Riferimento-Message-ID header when the daticert has none (with a
  // warning).
  std::optional<std::string> msgid;
  // Present when the top-level entity is multipart/signed.
  std::optional<SignedEntity> signed_entity;
  // True when the message's first line ends with a bare LF (a file stored
  // with Unix line ends); the signed bytes are then canonicalised to CRLF
  // before verification.
  bool bare_lf = false;
  // Disagreements and oddities (header vs daticert, stray text, ...).
  std::vector<std::string> warnings;

  // The signed content bytes (empty when there are none).
  std::string_view signed_content() const;
};

// Parses the exact bytes of one message (as stored in a Maildir or fetched
// with IMAP BODY.PEEK[]): classifies it, extracts the PEC headers, the
// daticert facts and the S/MIME parts. Never fails on PEC oddities (they
// become warnings); fails with kind `input` only when the bytes are not a
// mail message at all (empty, or no header section).
core::Result<ParsedMessage> parse_message(std::string raw);

} // namespace pecbatch::receipts
