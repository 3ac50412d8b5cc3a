#include "helpers.hpp"
#include "support/temp_dir.hpp"

#include <pecbatch/contacts/contacts.hpp>

#include <gtest/gtest.h>

#include <filesystem>

using namespace pecbatch;
using namespace pecbatch::test;
using contacts::ReadOptions;

namespace {

class ContactsXlsTest : public TempDirTest {};

std::string data(const char* name) {
  return data_path(std::string("contacts/") + name).string();
}

} // namespace

// contacts.xls was written by LibreOffice ("MS Excel 97") from
// spreadsheet-source.csv (see make-spreadsheets.sh): the same values as
// contacts.xlsx.
TEST_F(ContactsXlsTest, ReadsAWorkbookWrittenByLibreOffice) {
  const auto all = read_all(data("contacts.xls"));
  ASSERT_FALSE(all.error) << all.error->message;
  EXPECT_EQ(all.header, (Values{"Ragione sociale", "PEC", "Numero fattura", "Importo",
                                "Aliquota", "Scadenza", "Note"}));
  ASSERT_EQ(all.records.size(), 3u);
  EXPECT_EQ(all.records[0].row, 2u);
  EXPECT_EQ(all.records[0].values,
            (Values{"Niccolò Rossi S.r.l.", "niccolo.rossi@pec.it", "1234", "1234.56", "0.1",
                    "2024-03-15", "perché sì"}));
  EXPECT_EQ(all.records[1].row, 3u);
  EXPECT_EQ(all.records[1].values,
            (Values{"Città di Forlì", "protocollo@pec.comune.forli.fc.it", "42", "", "0.22",
                    "2024-12-31", ""}));
  EXPECT_EQ(all.records[2].row, 4u);
  EXPECT_EQ(all.records[2].values,
            (Values{"Caffè Ünïcödé & C.", "Amministrazione@PEC.Example.IT", "12345678901",
                    "-3.25", "1", "2025-01-02 09:30:00", "Caffè \"espresso\""}));
}

TEST_F(ContactsXlsTest, ReadsANamedSheetAndNamesTheSheetsOtherwise) {
  ReadOptions options;
  options.sheet = "spreadsheet-source";
  const auto all = read_all(data("contacts.xls"), options);
  ASSERT_FALSE(all.error) << all.error->message;
  EXPECT_EQ(all.records.size(), 3u);

  options.sheet = "spreadsheet-sorce";
  auto reader = contacts::open_reader(data("contacts.xls"), options);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().kind, core::ErrorKind::input);
  EXPECT_EQ(reader.error().message,
            data("contacts.xls") +
                ": no sheet named \"spreadsheet-sorce\"; the sheets are "
                "\"spreadsheet-source\" (did you mean \"spreadsheet-source\"?)");
}

TEST_F(ContactsXlsTest, RefusesFilesThatAreNotWorkbooks) {
  const auto text = write("contatti.xls", "Nome;PEC\nA;a@pec.it\n");
  auto reader = contacts::open_reader(text, {});
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().kind, core::ErrorKind::input);
  EXPECT_EQ(reader.error().message.rfind(text.string() + ": not a valid XLS file", 0), 0u)
      << reader.error().message;
}

TEST_F(ContactsXlsTest, DetectsAWorkbookByContent) {
  const auto copy = dir() / "contatti";
  std::filesystem::copy_file(data("contacts.xls"), copy);
  const auto all = read_all(copy);
  ASSERT_FALSE(all.error) << all.error->message;
  EXPECT_EQ(all.records.size(), 3u);
}

TEST_F(ContactsXlsTest, ValidatesLikeTheOtherFormats) {
  auto stream = contacts::ContactStream::open(data("contacts.xls"), {}, {});
  ASSERT_TRUE(stream) << stream.error().message;
  EXPECT_EQ(stream->address_column(), "PEC");
  const auto all = validate_all(*stream);
  ASSERT_FALSE(all.error);
  ASSERT_EQ(all.rows.size(), 3u);
  for (const auto& row : all.rows) {
    EXPECT_TRUE(row.problems.empty()) << messages(row.problems).front();
  }
  EXPECT_EQ(all.rows[2].contact.address, "Amministrazione@PEC.Example.IT");
  EXPECT_EQ(*all.rows[2].contact.field("Scadenza"), "2025-01-02 09:30:00");
}
