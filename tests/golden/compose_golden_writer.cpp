// Writes composed messages and a manifest of what each one must contain,
// for tests/golden/check_message.py to verify with an independent MIME
// parser (Python's email package).
//
// Usage: compose_golden_writer OUTPUT_DIR
// OUTPUT_DIR is emptied first. It receives the attachment source files,
// 01.eml, 02.eml, ... and manifest.json.

#include <pecbatch/compose/message.hpp>
#include <pecbatch/compose/template.hpp>
#include <pecbatch/core/file.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

namespace compose = pecbatch::compose;
namespace core = pecbatch::core;
namespace fs = std::filesystem;

using Values = std::map<std::string, std::string>;

[[noreturn]] void die(const std::string& message) {
  std::cerr << "compose_golden_writer: " << message << '\n';
  std::exit(1);
}

template <typename T> T check(core::Result<T> result) {
  if (!result.ok()) {
    die(result.error().message);
  }
  return std::move(result).value();
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    die("cannot write " + path.string());
  }
}

// A PDF-looking file: a real header, then random bytes (every byte value).
std::string pdf_like(std::size_t size, unsigned seed) {
  std::mt19937 engine(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string out = "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n";
  while (out.size() < size) {
    out += static_cast<char>(byte(engine));
  }
  return out;
}

compose::Template load_template(const fs::path& path, compose::Escaping escaping) {
  return check(compose::Template::parse(path.filename().string(),
                                        check(core::read_file(path)), escaping));
}

struct Case {
  std::string to;
  Values values;            // for the templates; empty = use `subject`/`text`
  std::string subject;      // when not templated
  std::string text;         // when not templated
  bool html = true;
  std::vector<fs::path> attachments;
  compose::ReceiptType receipt = compose::ReceiptType::completa;
};

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    die("usage: compose_golden_writer OUTPUT_DIR");
  }
  const fs::path out_dir = argv[1];
  fs::remove_all(out_dir);
  fs::create_directories(out_dir);

  const fs::path data = fs::path(PECBATCH_TEST_DATA_DIR) / "compose";
  const auto subject_template =
      load_template(data / "fattura.subject.mustache", compose::Escaping::none);
  const auto text_template =
      load_template(data / "fattura.txt.mustache", compose::Escaping::none);
  const auto html_template =
      load_template(data / "fattura.html.mustache", compose::Escaping::html);

  // Attachment sources. The first one is shared by most messages.
  const fs::path shared_pdf = out_dir / "fattura città.pdf";
  write_bytes(shared_pdf, pdf_like(700 * 1024 + 5, 2025));
  const fs::path invoice_xml = out_dir / "IT01234567890_FPA01.xml";
  write_bytes(invoice_xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                           "<FatturaElettronica versione=\"FPA12\">\n"
                           "  <Descrizione>Manutenzione — città</Descrizione>\n"
                           "</FatturaElettronica>\n");
  const fs::path long_name =
      out_dir / "Relazione tecnica sull'attività di manutenzione straordinaria "
                "degli impianti — Comune di Città di Castello (2025).pdf";
  write_bytes(long_name, pdf_like(3000, 7));
  const fs::path notes = out_dir / "note.txt";
  write_bytes(notes, "riga uno\r\nriga due\nriga tre senza fine");
  const fs::path empty = out_dir / "vuoto.csv";
  write_bytes(empty, "");

  std::vector<Case> cases;
  cases.push_back({"mario.rossi@pec.example.it",
                   {{"ragione_sociale", "Rossi & Figli <S.r.l.>"},
                    {"numero", "12"},
                    {"data", "01/03/2025"},
                    {"scadenza", "31/03/2025"},
                    {"città", "Forlì"},
                    {"P.IVA", "01234567890"}},
                   "", "", true, {shared_pdf, invoice_xml}, compose::ReceiptType::completa});
  cases.push_back({"anna.bianchi@pec.example.it",
                   {{"ragione_sociale", "{{segreto}} Bianchi \"l'Aquila\""},
                    {"numero", "13"},
                    {"data", "02/03/2025"},
                    {"scadenza", ""},
                    {"città", ""},
                    {"segreto", "NON DEVE COMPARIRE"}},
                   "", "", false, {shared_pdf}, compose::ReceiptType::breve});
  cases.push_back({"CED@Comune.Esempio.PEC.it",
                   {{"ragione_sociale", "Comune di Città di Castello"},
                    {"numero", "=?utf-8?q?14?="},
                    {"data", "03/03/2025"},
                    {"scadenza", "30/04/2025"},
                    {"città", "Città di Castello"}},
                   "", "", true, {shared_pdf, long_name, notes, empty},
                   compose::ReceiptType::sintetica});
  cases.push_back({"senza.allegati@pec.example.it",
                   {{"ragione_sociale", "Verdi SpA"},
                    {"numero", "15  bis\t(ter)"},
                    {"data", "04/03/2025"},
                    {"scadenza", "01/04/2025"}},
                   "", "", true, {}, compose::ReceiptType::completa});
  cases.push_back({"ivanov@pec.example.it", {},
                   "  Счёт № 16 —  scadenza\tcittà  ",
                   "Здравствуйте!\nСчёт во вложении.\nС уважением\n", false, {shared_pdf},
                   compose::ReceiptType::completa});
  cases.push_back({"righe.lunghe@pec.example.it", {},
                   std::string(300, 'S') + " oggetto lungo " + std::string(200, 's'),
                   "Inizio\n" + std::string(3000, 'x') + "\n" +
                       std::string(1200, 'y') + " è\nFine",
                   false, {}, compose::ReceiptType::breve});

  compose::AttachmentCache cache;
  nlohmann::json manifest = nlohmann::json::array();
  int number = 0;
  for (const auto& c : cases) {
    ++number;
    compose::MessageSpec spec;
    spec.from = "amministrazione@pec.esempio.it";
    spec.to = c.to;
    if (c.values.empty()) {
      spec.subject = c.subject;
      spec.text = c.text;
    } else {
      spec.subject = subject_template.render(c.values);
      spec.text = text_template.render(c.values);
      if (c.html) {
        spec.html = html_template.render(c.values);
      }
    }
    for (const auto& path : c.attachments) {
      spec.attachments.push_back(check(cache.get(path)));
    }
    spec.receipt = c.receipt;
    spec.message_id = compose::make_message_id("golden2025", c.to, "pec.esempio.it");
    spec.date = 1740000000 + number;

    const std::string message = check(compose::compose_message(spec));
    char name[16];
    std::snprintf(name, sizeof name, "%02d.eml", number);
    write_bytes(out_dir / name, message);

    nlohmann::json attachments = nlohmann::json::array();
    for (const auto& attachment : spec.attachments) {
      attachments.push_back({{"filename", attachment->filename},
                             {"content_type", attachment->content_type},
                             {"source", attachment->path.string()},
                             {"sha256", attachment->sha256},
                             {"size", attachment->size}});
    }
    manifest.push_back({{"file", name},
                        {"from", spec.from},
                        {"to", spec.to},
                        {"subject", spec.subject},
                        {"text", spec.text},
                        {"html", spec.html ? nlohmann::json(*spec.html) : nlohmann::json()},
                        {"message_id", spec.message_id},
                        {"receipt", compose::to_string(spec.receipt)},
                        {"date", spec.date},
                        {"attachments", attachments},
                        {"must_not_contain", {"NON DEVE COMPARIRE"}}});
  }

  // Five distinct files, however many messages carry them.
  if (cache.encoded_count() != 5) {
    die("expected 5 encoded attachments, got " + std::to_string(cache.encoded_count()));
  }
  write_bytes(out_dir / "manifest.json", manifest.dump(2) + "\n");
  std::cout << "wrote " << number << " messages to " << out_dir.string() << '\n';
  return 0;
}
