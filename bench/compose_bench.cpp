// CPU time per composed message, with 0, 1 and 10 MB attachments shared by
// every message. See bench/README.md.
//
// BM_compose_cached          the production path: the attachment is read and
//                            base64-encoded once, by AttachmentCache, outside
//                            the timed loop; each message splices the cached
//                            base64 into the MIME skeleton GMime writes.
// BM_compose_reencode        naive baseline: every message reads and encodes
//                            the attachment again (a fresh AttachmentCache per
//                            message).
// BM_compose_gmime_encode    naive baseline: GMime base64-encodes the file
//                            bytes while writing every message (read again
//                            each time).
// BM_render_templates        subject + text + HTML Mustache rendering for one
//                            recipient, for scale.

#include "compose_detail.hpp"

#include <pecbatch/compose/message.hpp>
#include <pecbatch/compose/template.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

namespace {

namespace compose = pecbatch::compose;
namespace fs = std::filesystem;

// A temporary directory holding one attachment file per size, removed at
// exit.
class AttachmentFiles {
public:
  AttachmentFiles() {
    std::string pattern = (fs::temp_directory_path() / "pecbatch-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::abort();
    }
    m_dir = pattern;
  }
  ~AttachmentFiles() {
    std::error_code ec;
    fs::remove_all(m_dir, ec);
  }
  AttachmentFiles(const AttachmentFiles&) = delete;
  AttachmentFiles& operator=(const AttachmentFiles&) = delete;

  // The path of a PDF-like file of `megabytes` MB of random bytes.
  const fs::path& file(std::int64_t megabytes) {
    auto it = m_files.find(megabytes);
    if (it == m_files.end()) {
      const fs::path path = m_dir / ("fattura città " + std::to_string(megabytes) + "MB.pdf");
      std::mt19937_64 engine(static_cast<std::uint64_t>(megabytes));
      std::string bytes = "%PDF-1.7\n";
      bytes.resize(static_cast<std::size_t>(megabytes) * 1024 * 1024);
      for (std::size_t i = 9; i + 8 <= bytes.size(); i += 8) {
        const std::uint64_t value = engine();
        std::memcpy(bytes.data() + i, &value, 8);
      }
      std::ofstream(path, std::ios::binary).write(bytes.data(),
                                                  static_cast<std::streamsize>(bytes.size()));
      it = m_files.emplace(megabytes, path).first;
    }
    return it->second;
  }

private:
  fs::path m_dir;
  std::map<std::int64_t, fs::path> m_files;
};

AttachmentFiles& files() {
  static AttachmentFiles instance;
  return instance;
}

compose::MessageSpec base_spec() {
  compose::MessageSpec spec;
  spec.from = "amministrazione@pec.esempio.it";
  spec.subject = "Fattura n. 12 — scadenza 31/03/2025 (Forlì)";
  spec.text = "Gentile cliente,\n\nin allegato trova la fattura n. 12 del 01/03/2025.\n"
              "Il pagamento è dovuto entro il 31/03/2025.\n\nCordiali saluti,\n"
              "Ufficio amministrazione — Società Esempio S.r.l.\n";
  spec.html = "<p>Gentile cliente,</p><p>in allegato trova la fattura n. 12 del "
              "01/03/2025.</p><p>Il pagamento è dovuto entro il <em>31/03/2025</em>."
              "</p><p>Cordiali saluti,<br>Ufficio amministrazione — Società Esempio "
              "S.r.l.</p>";
  spec.receipt = compose::ReceiptType::breve;
  spec.date = 1740000000;
  return spec;
}

// Gives the spec the recipient of message number `n`.
void set_recipient(compose::MessageSpec& spec, std::int64_t n) {
  spec.to = "cliente" + std::to_string(n) + "@pec.example.it";
  spec.message_id = compose::make_message_id("bench", spec.to, "pec.esempio.it");
}

void report(benchmark::State& state, std::size_t message_bytes,
            const compose::AttachmentCache* cache) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(message_bytes));
  state.counters["msg_bytes"] = static_cast<double>(message_bytes);
  if (cache != nullptr) {
    state.counters["encodes"] = static_cast<double>(cache->encoded_count());
  }
}

void BM_compose_cached(benchmark::State& state) {
  const std::int64_t megabytes = state.range(0);
  compose::AttachmentCache cache;
  auto spec = base_spec();
  if (megabytes > 0) {
    spec.attachments.push_back(cache.get(files().file(megabytes)).value_or_throw());
  }
  std::int64_t n = 0;
  std::size_t size = 0;
  for (auto _ : state) {
    set_recipient(spec, n++);
    auto message = compose::compose_message(spec);
    if (!message.ok()) {
      state.SkipWithError(message.error().message.c_str());
      break;
    }
    size = message->size();
    benchmark::DoNotOptimize(message);
  }
  report(state, size, &cache);
}

void BM_compose_reencode(benchmark::State& state) {
  const std::int64_t megabytes = state.range(0);
  const fs::path path = megabytes > 0 ? files().file(megabytes) : fs::path();
  auto spec = base_spec();
  std::int64_t n = 0;
  std::size_t size = 0;
  for (auto _ : state) {
    compose::AttachmentCache cache;
    spec.attachments.clear();
    if (megabytes > 0) {
      spec.attachments.push_back(cache.get(path).value_or_throw());
    }
    set_recipient(spec, n++);
    auto message = compose::compose_message(spec);
    if (!message.ok()) {
      state.SkipWithError(message.error().message.c_str());
      break;
    }
    size = message->size();
    benchmark::DoNotOptimize(message);
  }
  report(state, size, nullptr);
}

void BM_compose_gmime_encode(benchmark::State& state) {
  const std::int64_t megabytes = state.range(0);
  compose::AttachmentCache cache;
  auto spec = base_spec();
  if (megabytes > 0) {
    spec.attachments.push_back(cache.get(files().file(megabytes)).value_or_throw());
  }
  std::int64_t n = 0;
  std::size_t size = 0;
  for (auto _ : state) {
    set_recipient(spec, n++);
    auto message = compose::detail::compose_message(
        spec, compose::detail::AttachmentMode::gmime_encode);
    if (!message.ok()) {
      state.SkipWithError(message.error().message.c_str());
      break;
    }
    size = message->size();
    benchmark::DoNotOptimize(message);
  }
  report(state, size, nullptr);
}

void BM_render_templates(benchmark::State& state) {
  const auto subject = compose::Template::parse(
      "subject", "Fattura n. {{numero}} — scadenza {{scadenza}}", compose::Escaping::none)
                           .value_or_throw();
  const auto text = compose::Template::parse(
      "text",
      "Gentile {{ragione_sociale}},\n\nin allegato trova la fattura n. {{numero}}.\n"
      "{{#scadenza}}\nIl pagamento è dovuto entro il {{scadenza}}.\n{{/scadenza}}\n"
      "\nCordiali saluti\n",
      compose::Escaping::none)
                        .value_or_throw();
  const auto html = compose::Template::parse(
      "html",
      "<p>Gentile <b>{{ragione_sociale}}</b>,</p>\n<p>fattura n. {{numero}}.</p>\n"
      "{{#scadenza}}\n<p>Scadenza: {{scadenza}}</p>\n{{/scadenza}}\n",
      compose::Escaping::html)
                        .value_or_throw();
  const std::map<std::string, std::string> values = {
      {"ragione_sociale", "Rossi & Figli S.r.l."}, {"numero", "12"}, {"scadenza", "31/03/2025"}};
  for (auto _ : state) {
    auto s = subject.render(values);
    auto t = text.render(values);
    auto h = html.render(values);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(t);
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_compose_cached)->Arg(0)->Arg(1)->Arg(10)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_compose_reencode)->Arg(0)->Arg(1)->Arg(10)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_compose_gmime_encode)->Arg(0)->Arg(1)->Arg(10)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_render_templates)->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
