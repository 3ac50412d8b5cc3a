#pragma once

// libcurl set-up shared by its users (dispatch's SMTP transport; the IMAP
// mailbox has its own OpenSSL client, docs/ARCHITECTURE.md), so that they
// agree on it.
namespace pecbatch::net {

// curl_global_init, exactly once per process, thread-safe.
void curl_global_init_once();

// Whether a CURLcode (passed as int, so this header needs no curl.h) is a
// TLS or certificate failure, which stops a run at once.
bool is_curl_tls_error(int code);

} // namespace pecbatch::net
