// Rows per second through the contacts module. See bench/README.md.
//
// BM_read_csv        open_reader + next() over a CSV of N rows written by
//                    Italian Excel (BOM, ';', CRLF, every 100th record with
//                    a quoted line break): the libcsv reader alone.
// BM_validate_csv    ContactStream over the same file: reading plus the
//                    address check and the duplicate table.

#include <pecbatch/contacts/contacts.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace {

namespace contacts = pecbatch::contacts;
namespace fs = std::filesystem;

// A CSV of `rows` contacts in a temporary directory, removed by the
// destructor.
class CsvFile {
public:
  explicit CsvFile(long rows) {
    m_dir = fs::temp_directory_path() /
            ("pecbatch-contacts-bench-" + std::to_string(::getpid()) + "-" +
             std::to_string(rows));
    fs::create_directories(m_dir);
    m_path = m_dir / "contatti.csv";
    std::ofstream out(m_path, std::ios::binary);
    out << "\xEF\xBB\xBFRagione sociale;PEC;Numero fattura;Importo;Note\r\n";
    for (long i = 1; i <= rows; ++i) {
      out << "Ditta " << i << " S.r.l.;utente" << i << "@pec.example.it;2024/" << i
          << ";1.234,56;";
      if (i % 100 == 0) {
        out << "\"nota\r\nsu due righe\"";
      }
      out << "\r\n";
    }
  }
  ~CsvFile() {
    std::error_code ec;
    fs::remove_all(m_dir, ec);
  }
  CsvFile(const CsvFile&) = delete;
  CsvFile& operator=(const CsvFile&) = delete;

  const fs::path& path() const { return m_path; }

private:
  fs::path m_dir;
  fs::path m_path;
};

void BM_read_csv(benchmark::State& state) {
  const CsvFile file(state.range(0));
  for (auto _ : state) {
    auto reader = contacts::open_reader(file.path(), {});
    if (!reader) {
      state.SkipWithError(reader.error().message.c_str());
      return;
    }
    long count = 0;
    while (true) {
      auto record = (*reader)->next();
      if (!record || !*record) {
        break;
      }
      ++count;
    }
    benchmark::DoNotOptimize(count);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_read_csv)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_validate_csv(benchmark::State& state) {
  const CsvFile file(state.range(0));
  for (auto _ : state) {
    auto stream = contacts::ContactStream::open(file.path(), {}, {});
    if (!stream) {
      state.SkipWithError(stream.error().message.c_str());
      return;
    }
    long problems = 0;
    while (true) {
      auto row = stream->next();
      if (!row || !*row) {
        break;
      }
      problems += static_cast<long>((*row)->problems.size());
    }
    if (problems != 0) {
      state.SkipWithError("unexpected problems");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_validate_csv)->Arg(100000)->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
