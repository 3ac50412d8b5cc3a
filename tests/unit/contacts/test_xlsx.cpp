#include "helpers.hpp"
#include "support/temp_dir.hpp"

#include <pecbatch/contacts/contacts.hpp>

#include <gtest/gtest.h>

#include <filesystem>

using namespace pecbatch;
using namespace pecbatch::test;
using contacts::ReadOptions;

namespace {

class ContactsXlsxTest : public TempDirTest {};

std::string data(const char* name) {
  return data_path(std::string("contacts/") + name).string();
}

} // namespace

// contacts.xlsx was written by LibreOffice from spreadsheet-source.csv (see
// make-spreadsheets.sh).
TEST_F(ContactsXlsxTest, ReadsAWorkbookWrittenByLibreOffice) {
  const auto all = read_all(data("contacts.xlsx"));
  ASSERT_FALSE(all.error) << all.error->message;
  EXPECT_EQ(all.header, (Values{"Ragione sociale", "PEC", "Numero fattura", "Importo",
                                "Aliquota", "Scadenza", "Note"}));
  ASSERT_EQ(all.records.size(), 3u);
  EXPECT_EQ(all.records[0].row, 2u);
  EXPECT_EQ(all.records[0].values,
            (Values{"Niccolò Rossi S.r.l.", "niccolo.rossi@pec.it", "1234", "1234.56", "0.1",
                    "2024-03-15", "perché sì"}));
  // An empty cell in the middle and one at the end of the row.
  EXPECT_EQ(all.records[1].row, 3u);
  EXPECT_EQ(all.records[1].values,
            (Values{"Città di Forlì", "protocollo@pec.comune.forli.fc.it", "42", "", "0.22",
                    "2024-12-31", ""}));
  EXPECT_EQ(all.records[2].row, 4u);
  EXPECT_EQ(all.records[2].values,
            (Values{"Caffè Ünïcödé & C.", "Amministrazione@PEC.Example.IT", "12345678901",
                    "-3.25", "1", "2025-01-02 09:30:00", "Caffè \"espresso\""}));
}

// sparse.xlsx is hand-made (see make-spreadsheets.sh): missing rows and
// cells, cells and rows without references, inline strings, rich text,
// _x000D_ escapes, formulas, booleans, errors, date formats.
TEST_F(ContactsXlsxTest, ReadsSparseRowsAndEveryCellType) {
  const auto all = read_all(data("sparse.xlsx"));
  ASSERT_FALSE(all.error) << all.error->message;
  // Rich text "P"+"EC"; " Importo " trimmed; the styled empty H1 dropped.
  EXPECT_EQ(all.header,
            (Values{"Nome", "PEC", "Città", "Nota", "Data", "Attivo", "Importo"}));
  ASSERT_EQ(all.records.size(), 6u);

  // Row 2 is missing; C3 is missing; t="str", built-in date, boolean.
  EXPECT_EQ(all.records[0].row, 3u);
  EXPECT_EQ(all.records[0].values,
            (Values{"Mario", "mario@pec.it", "", "calcolato", "2024-03-15", "TRUE", ""}));
  // Row 4 has only empty styled cells: skipped. Inline string kept as is
  // (spaces too), error value, custom date-time format, FALSE, 0.1.
  EXPECT_EQ(all.records[1].row, 5u);
  EXPECT_EQ(all.records[1].values,
            (Values{"Anna", "  anna@pec.it ", "", "#N/A", "2024-03-15 12:00:00", "FALSE",
                    "0.1"}));
  // A value in I6, past the header: the record is longer than the header.
  EXPECT_EQ(all.records[2].row, 6u);
  EXPECT_EQ(all.records[2].values,
            (Values{"Luca", "luca@pec.it", "", "", "", "", "", "", "oltre"}));
  // A row and cells without references; phonetic text ignored; _x000D_.
  EXPECT_EQ(all.records[3].row, 7u);
  EXPECT_EQ(all.records[3].values,
            (Values{"Senza", "rif@pec.it", "Tokyo", "Linea 1\r\nLinea 2", "", "", ""}));
  // Numbers without float noise; serial 60 is Lotus' 1900-02-29; h:mm.
  EXPECT_EQ(all.records[4].row, 9u);
  EXPECT_EQ(all.records[4].values,
            (Values{"Numeri", "numeri@pec.it", "1234", "0.3", "1900-02-29", "18:00:00",
                    "1234.56"}));
  // "d" and "y" inside quoted text do not make a date format.
  EXPECT_EQ(all.records[5].row, 10u);
  EXPECT_EQ(all.records[5].values,
            (Values{"Testo", "testo@pec.it", "", "", "45366", "", "-0.001"}));
}

TEST_F(ContactsXlsxTest, ReadsANamedSheet) {
  ReadOptions options;
  options.sheet = "Altro";
  auto reader = contacts::open_reader(data("sparse.xlsx"), options);
  ASSERT_TRUE(reader) << reader.error().message;
  EXPECT_EQ((*reader)->header(), (Values{"E-Mail", "Nome"}));
  auto record = (*reader)->next();
  ASSERT_TRUE(record && *record);
  EXPECT_EQ((*record)->row, 3u);
  EXPECT_EQ((*record)->values, (Values{"altro@pec.it", "Altro"}));

  options.sheet = "ALTRO"; // sheet names ignore case, as in Excel
  const auto all = read_all(data("sparse.xlsx"), options);
  ASSERT_FALSE(all.error);
  EXPECT_EQ(all.records.size(), 1u);
}

TEST_F(ContactsXlsxTest, NamesTheSheetsWhenTheSheetIsUnknown) {
  ReadOptions options;
  options.sheet = "Altri";
  auto reader = contacts::open_reader(data("sparse.xlsx"), options);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().kind, core::ErrorKind::input);
  EXPECT_EQ(reader.error().message,
            data("sparse.xlsx") +
                ": no sheet named \"Altri\"; the sheets are \"Contatti\" and \"Altro\" "
                "(did you mean \"Altro\"?)");
}

TEST_F(ContactsXlsxTest, RefusesAZipBomb) {
  auto reader = contacts::open_reader(data("zip-bomb.xlsx"), {});
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().kind, core::ErrorKind::input);
  EXPECT_EQ(reader.error().message,
            data("zip-bomb.xlsx") +
                ": part xl/worksheets/sheet1.xml would be 600000000 bytes "
                "uncompressed, more than the 512 MiB accepted (a damaged file or a "
                "zip bomb?); save the contacts as CSV");
}

TEST_F(ContactsXlsxTest, RefusesFilesThatAreNotWorkbooks) {
  const auto text = write("contatti.xlsx", "Nome;PEC\nA;a@pec.it\n");
  auto reader = contacts::open_reader(text, {});
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().kind, core::ErrorKind::input);
  EXPECT_EQ(reader.error().message.rfind(text.string() + ": not a valid XLSX file: not a ZIP archive", 0),
            0u)
      << reader.error().message;

  const auto missing = dir() / "missing.xlsx";
  auto no_file = contacts::open_reader(missing, {});
  ASSERT_FALSE(no_file);
  EXPECT_EQ(no_file.error().kind, core::ErrorKind::no_input);
  EXPECT_EQ(no_file.error().message,
            missing.string() + ": cannot open: No such file or directory");
}

TEST_F(ContactsXlsxTest, DetectsAWorkbookByContent) {
  const auto copy = dir() / "contatti.dat";
  std::filesystem::copy_file(data("contacts.xlsx"), copy);
  const auto all = read_all(copy);
  ASSERT_FALSE(all.error) << all.error->message;
  EXPECT_EQ(all.records.size(), 3u);
}

TEST_F(ContactsXlsxTest, ValidatesSpreadsheetRows) {
  auto stream = contacts::ContactStream::open(data("sparse.xlsx"), {}, {});
  ASSERT_TRUE(stream) << stream.error().message;
  EXPECT_EQ(stream->address_column(), "PEC");
  const auto all = validate_all(*stream);
  ASSERT_FALSE(all.error);
  ASSERT_EQ(all.rows.size(), 6u);
  EXPECT_TRUE(all.rows[0].problems.empty());
  // The address is trimmed; other values are not.
  EXPECT_EQ(all.rows[1].contact.address, "anna@pec.it");
  EXPECT_TRUE(all.rows[1].problems.empty());
  // Trailing empty cells are not a problem; a value past the header is.
  EXPECT_EQ(messages(all.rows[2].problems),
            (Values{data("sparse.xlsx") + ":6: row has 9 fields, header has 7"}));
  EXPECT_EQ(*all.rows[3].contact.field("Città"), "Tokyo");
}
