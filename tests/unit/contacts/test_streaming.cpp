#include "helpers.hpp"
#include "support/temp_dir.hpp"

#include <pecbatch/contacts/contacts.hpp>

#include <gtest/gtest.h>

#include <malloc.h>

#include <fstream>

using namespace pecbatch;
using namespace pecbatch::test;

namespace {

class ContactsStreamingTest : public TempDirTest {};

constexpr std::uint64_t k_rows = 100000;

// Bytes of heap in use (glibc), or nullopt where the allocator is replaced
// (sanitizers).
std::optional<std::size_t> heap_in_use() {
#if defined(__SANITIZE_ADDRESS__) || !defined(__GLIBC__)
  return std::nullopt;
#else
  const auto info = mallinfo2();
  return info.uordblks + info.hblkhd; // small blocks + mmap-ed ones
#endif
}

} // namespace

// 100,000 rows stream through one at a time; the duplicate placed at the
// very end still finds the first row.
TEST_F(ContactsStreamingTest, StreamsOneHundredThousandRows) {
  const auto path = dir() / "big.csv";
  {
    std::ofstream out(path, std::ios::binary);
    out << "\xEF\xBB\xBFRagione sociale;PEC;Numero fattura;Note\r\n";
    for (std::uint64_t i = 1; i <= k_rows; ++i) {
      out << "Ditta " << i << ";utente" << i << "@pec.example.it;F-" << i << ';';
      if (i % 1000 == 0) {
        out << "\"nota su\ndue righe\"";  // every 1000th record spans two lines
      }
      out << "\r\n";
    }
    out << "Duplicato;UTENTE1@PEC.EXAMPLE.IT;F-0;fine\r\n";
  }

  const auto heap_before = heap_in_use();
  auto stream = contacts::ContactStream::open(path, {}, {});
  ASSERT_TRUE(stream) << stream.error().message;
  std::uint64_t count = 0;
  std::uint64_t with_problems = 0;
  std::optional<contacts::RowResult> last;
  while (true) {
    auto row = stream->next();
    ASSERT_TRUE(row) << row.error().message;
    if (!*row) {
      break;
    }
    ++count;
    if (!(*row)->problems.empty()) {
      ++with_problems;
    }
    if (count == k_rows) {
      // Record k_rows starts after k_rows - 1 records, 99 of which take two
      // lines, plus the header.
      EXPECT_EQ((*row)->contact.row, 1 + (k_rows - 1) + (k_rows - 1) / 1000 + 1);
      EXPECT_EQ((*row)->contact.address, "utente100000@pec.example.it");
      EXPECT_EQ(*(*row)->contact.field("Note"), "nota su\ndue righe");
      // The file is about 5.5 MB; the duplicate table holds 262,144 slots of
      // 16 bytes (4 MiB). Anything keeping the rows would need far more.
      if (heap_before) {
        EXPECT_LT(*heap_in_use() - *heap_before, 6u * 1024 * 1024);
      }
    }
    last = std::move(**row);
  }
  EXPECT_EQ(count, k_rows + 1);
  EXPECT_EQ(with_problems, 1u);
  ASSERT_TRUE(last);
  // Header + 100,000 records, 100 of which take two lines.
  EXPECT_EQ(last->contact.row, 1 + k_rows + k_rows / 1000 + 1);
  EXPECT_EQ(last->contact.fields,
            (std::vector<std::pair<std::string, std::string>>{
                {"Ragione sociale", "Duplicato"}, {"Numero fattura", "F-0"}, {"Note", "fine"}}));
  ASSERT_EQ(last->problems.size(), 1u);
  EXPECT_EQ(last->problems[0].message, "duplicate of row 2");
  EXPECT_EQ(last->problems[0].column, "PEC");
}
