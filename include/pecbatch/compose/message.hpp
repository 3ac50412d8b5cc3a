#pragma once

#include <pecbatch/core/result.hpp>

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pecbatch::compose {

// The delivery-receipt flavour requested with X-TipoRicevuta.
enum class ReceiptType { completa, breve, sintetica };
const char* to_string(ReceiptType type);
std::optional<ReceiptType> parse_receipt_type(std::string_view text);

// An attachment read from disk and encoded once, shared by every message
// that carries it.
struct EncodedAttachment {
  std::filesystem::path path;
  std::string filename;      // as it appears in the message (UTF-8)
  std::string content_type;  // e.g. "application/pdf"
  std::uint64_t size = 0;    // bytes of the file
  std::string sha256;        // hex, of the file's bytes
  std::string base64;        // the encoded body: 76-column lines, CRLF
};

// Reads and encodes attachment files, each once per cache.
class AttachmentCache {
public:
  // Returns the encoded attachment for `path`, reading it on first use.
  // Fails with `no_input` when the file cannot be read.
  core::Result<std::shared_ptr<const EncodedAttachment>>
  get(const std::filesystem::path& path);

  // Files encoded so far (for tests and benchmarks).
  std::size_t encoded_count() const;

private:
  mutable std::mutex m_mutex;
  std::map<std::filesystem::path, std::shared_ptr<const EncodedAttachment>> m_cache;
  std::size_t m_encoded = 0;
};

// Everything that makes one certified message.
struct MessageSpec {
  std::string from;        // the account's PEC address
  std::string to;          // the single recipient
  std::string subject;     // UTF-8; RFC 2047-encoded when not ASCII
  std::string text;        // UTF-8 text/plain body
  std::optional<std::string> html;  // optional text/html alternative
  std::vector<std::shared_ptr<const EncodedAttachment>> attachments;
  ReceiptType receipt = ReceiptType::completa;
  std::string message_id;  // without angle brackets
  std::time_t date = 0;    // the Date header
};

// Builds the exact bytes of the message: CRLF line ends, no line longer than
// 998 octets, From/To/Subject/Date/Message-ID/MIME-Version/X-TipoRicevuta,
// text/plain (or multipart/alternative with text/html), and the attachments
// in multipart/mixed with RFC 2231 file names. Never a Cc or Bcc.
// MIME boundaries are derived from the Message-ID, so composing the same
// spec twice gives the same bytes.
// Fails with `input` when a header value contains CR, LF or NUL.
core::Result<std::string> compose_message(const MessageSpec& spec);

// The size in bytes of compose_message(spec), with the same checks, without
// producing the message: the attachments' bodies are counted, not copied.
core::Result<std::uint64_t> composed_size(const MessageSpec& spec);

// A digest of everything in `spec` that decides the message's bytes except
// its Date: `spec-sha256:` and the SHA-256 of the fields, each length-
// prefixed, attachments by file name, type, size and the SHA-256 of their
// file. Two specs with the same digest compose to the same bytes but for
// the Date header (with the same pecbatch). Costs no pass over the
// attachments, whose hashes are computed once when they are read.
std::string content_digest(const MessageSpec& spec);

// The Message-ID (without brackets) of a campaign row:
// `pecbatch.<campaign_id>.<row_key>.<generation>@<domain>`, where row_key is
// the first 20 hex digits of SHA-256 of the normalised recipient address.
// Stable for the same inputs, so receipts can be matched even if the local
// journal is lost.
std::string make_message_id(const std::string& campaign_id,
                            const std::string& recipient,
                            const std::string& domain, unsigned generation = 1);

} // namespace pecbatch::compose
