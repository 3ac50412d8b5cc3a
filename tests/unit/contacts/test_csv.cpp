#include "helpers.hpp"
#include "support/temp_dir.hpp"

#include <pecbatch/contacts/contacts.hpp>

#include <gtest/gtest.h>

using namespace pecbatch;
using namespace pecbatch::test;
using contacts::Encoding;
using contacts::Format;
using contacts::ReadOptions;

namespace {

class ContactsCsvTest : public TempDirTest {};

// Bytes read per chunk by the CSV reader (see csv_reader.cpp).
constexpr std::size_t k_chunk = 64 * 1024;

std::string data(const char* name) {
  return data_path(std::string("contacts/") + name).string();
}

} // namespace

TEST_F(ContactsCsvTest, ReadsItalianExcelCsv) {
  const auto all = read_all(data("excel-it.csv"));
  ASSERT_FALSE(all.error) << all.error->message;
  // BOM stripped, ';' sniffed, CRLF handled.
  EXPECT_EQ(all.header, (Values{"Ragione sociale", "PEC", "Numero fattura", "Importo",
                                "Scadenza", "Allegato"}));
  ASSERT_EQ(all.records.size(), 5u);
  EXPECT_EQ(all.records[0].row, 2u);
  EXPECT_EQ(all.records[0].values,
            (Values{"Niccolò Rossi S.r.l.", "niccolo.rossi@pec.it", "2024/001", "1.234,56",
                    "15/03/2024", "fattura-001.pdf"}));
  EXPECT_EQ(all.records[1].row, 3u);
  EXPECT_EQ(all.records[1].values[0], "Città di Forlì");
  EXPECT_EQ(all.records[1].values[5], "fattura-002.pdf;allegato-002.pdf");
  EXPECT_EQ(all.records[2].row, 4u);
  EXPECT_EQ(all.records[2].values[0], "Caffè \"Il Chicco\" S.n.c.");
  // A value with an embedded line break: the record starts on line 5, the
  // next one on line 7.
  EXPECT_EQ(all.records[3].row, 5u);
  EXPECT_EQ(all.records[3].values[0], "Studio Bianchi; Verdi\nAvvocati associati");
  EXPECT_EQ(all.records[3].values[5], "");
  EXPECT_EQ(all.records[4].row, 7u);
  // The last line has no line end.
  EXPECT_EQ(all.records[4].values,
            (Values{"Perché Sì S.p.A.", "perche.si@legalmail.it", "2024/005", "0,10",
                    "01/03/2025", "fattura-005.pdf"}));
}

TEST_F(ContactsCsvTest, ConvertsWindows1252WhenAsked) {
  ReadOptions options;
  options.encoding = Encoding::windows1252;
  const auto all = read_all(data("windows-1252.csv"), options);
  ASSERT_FALSE(all.error) << all.error->message;
  EXPECT_EQ(all.header, (Values{"Ragione sociale", "PEC", "Importo", "Note"}));
  ASSERT_EQ(all.records.size(), 2u);
  EXPECT_EQ(all.records[0].values,
            (Values{"Città di Forlì", "protocollo@pec.comune.forli.fc.it", "€ 99,00",
                    "perché sì"}));
  EXPECT_EQ(all.records[1].values,
            (Values{"Niccolò Rossi", "niccolo.rossi@pec.it", "€ 1.234,56", "“urgente”"}));

  options.encoding = Encoding::latin1;
  const auto latin1 = read_all(data("windows-1252.csv"), options);
  ASSERT_FALSE(latin1.error);
  EXPECT_EQ(latin1.records[0].values[0], "Città di Forlì");
  EXPECT_EQ(latin1.records[0].values[2], "\xC2\x80 99,00"); // U+0080, not €
}

TEST_F(ContactsCsvTest, RefusesWindows1252ReadAsUtf8WithLineAndOffset) {
  const auto all = read_all(data("windows-1252.csv"));
  ASSERT_TRUE(all.error);
  EXPECT_EQ(all.error->kind, core::ErrorKind::input);
  EXPECT_EQ(all.error->message,
            data("windows-1252.csv") +
                ":2: invalid UTF-8 at byte offset 38 (0xE0): set encoding = "
                "\"windows-1252\" if the file was saved by Excel as plain CSV");
}

TEST_F(ContactsCsvTest, ReportsInvalidUtf8AfterTheRecordsBeforeIt) {
  const auto all = read_all(data("invalid-utf8.csv"));
  ASSERT_EQ(all.records.size(), 2u);
  EXPECT_EQ(all.records[0].row, 2u);
  EXPECT_EQ(all.records[1].row, 3u);
  EXPECT_EQ(all.records[1].values[0], "Anna\nMaria");
  ASSERT_TRUE(all.error);
  EXPECT_EQ(all.error->kind, core::ErrorKind::input);
  EXPECT_EQ(all.error->message.rfind(data("invalid-utf8.csv") +
                                         ":5: invalid UTF-8 at byte offset 58 (0xE8)",
                                     0),
            0u)
      << all.error->message;
}

TEST_F(ContactsCsvTest, CountsTheBomInByteOffsets) {
  const auto path = write("bom.csv", "\xEF\xBB\xBFNome,PEC\nA\xFF,a@pec.it\n");
  const auto all = read_all(path);
  ASSERT_TRUE(all.error);
  EXPECT_EQ(all.error->message.rfind(path.string() + ":2: invalid UTF-8 at byte offset 13 (0xFF)", 0),
            0u)
      << all.error->message;
}

TEST_F(ContactsCsvTest, AcceptsCharactersCutByTheChunkBoundary) {
  // "è" (C3 A8) starts at the last byte of the first chunk.
  std::string content = "Nome,PEC\n";
  content += std::string(k_chunk - 1 - content.size(), 'x');
  content += "è,a@pec.it\n";
  ASSERT_EQ(content.substr(k_chunk - 1, 2), "è");
  const auto all = read_all(write("cut.csv", content));
  ASSERT_FALSE(all.error) << all.error->message;
  ASSERT_EQ(all.records.size(), 1u);
  EXPECT_EQ(all.records[0].row, 2u);
  EXPECT_EQ(all.records[0].values[0], std::string(k_chunk - 10, 'x') + "è");
}

TEST_F(ContactsCsvTest, FindsInvalidBytesAtAndAfterTheChunkBoundary) {
  std::string content = "Nome,PEC\n";
  content += std::string(k_chunk - 1 - content.size(), 'x');
  content += "\xE8,a@pec.it\n"; // Latin-1 è: the last byte of the chunk
  const auto path = write("boundary.csv", content);
  const auto all = read_all(path);
  ASSERT_TRUE(all.error);
  EXPECT_EQ(all.error->message.rfind(
                path.string() + ":2: invalid UTF-8 at byte offset 65535 (0xE8)", 0),
            0u)
      << all.error->message;

  // A character cut by the end of the file.
  const auto cut = write("cut-at-end.csv", "Nome,PEC\nA,a@pec.it\nB,\xE2\x82");
  const auto cut_all = read_all(cut);
  ASSERT_TRUE(cut_all.error);
  EXPECT_EQ(cut_all.records.size(), 1u);
  EXPECT_EQ(cut_all.error->message.rfind(
                cut.string() + ":3: invalid UTF-8 at byte offset 22 (0xE2)", 0),
            0u)
      << cut_all.error->message;
}

TEST_F(ContactsCsvTest, SniffsTheDelimiterOutsideQuotes) {
  EXPECT_EQ(read_all(write("comma.csv", "Nome,PEC\nA;B,a@pec.it\n")).records[0].values,
            (Values{"A;B", "a@pec.it"}));
  EXPECT_EQ(read_all(write("semi.csv", "Nome;PEC\nA,B;a@pec.it\n")).records[0].values,
            (Values{"A,B", "a@pec.it"}));
  EXPECT_EQ(read_all(write("tab.csv", "Nome\tPEC\nA, B; C\ta@pec.it\n")).records[0].values,
            (Values{"A, B; C", "a@pec.it"}));
  // Two ';' inside quotes do not beat one ',' outside.
  EXPECT_EQ(read_all(write("quoted.csv", "\"Nome;x;y\",PEC\nA,a@pec.it\n")).header,
            (Values{"Nome;x;y", "PEC"}));
  // A tie goes to ';'.
  EXPECT_EQ(read_all(write("tie.csv", "Nome,Cognome;PEC\nA,B;a@pec.it\n")).header,
            (Values{"Nome,Cognome", "PEC"}));
  // Leading blank lines do not hide the header.
  const auto blank = read_all(write("blank.csv", "\r\n\r\nNome;PEC\r\nA;a@pec.it\r\n"));
  EXPECT_EQ(blank.header, (Values{"Nome", "PEC"}));
  EXPECT_EQ(blank.records[0].row, 4u);
}

TEST_F(ContactsCsvTest, UsesTheDelimiterGivenInTheOptions) {
  ReadOptions options;
  options.delimiter = '|';
  const auto all = read_all(write("pipe.csv", "Nome|PEC;x\nA,B|a@pec.it\n"), options);
  ASSERT_FALSE(all.error);
  EXPECT_EQ(all.header, (Values{"Nome", "PEC;x"}));
  EXPECT_EQ(all.records[0].values, (Values{"A,B", "a@pec.it"}));
}

TEST_F(ContactsCsvTest, KeepsValuesExactlyButTrimsHeaderNames) {
  const auto all =
      read_all(write("spaces.csv", " Nome ; PEC\n Mario ; a@pec.it \n\"  q  \";\t\n"));
  ASSERT_FALSE(all.error) << all.error->message;
  EXPECT_EQ(all.header, (Values{"Nome", "PEC"}));
  ASSERT_EQ(all.records.size(), 2u);
  EXPECT_EQ(all.records[0].values, (Values{" Mario ", " a@pec.it "}));
  EXPECT_EQ(all.records[1].values, (Values{"  q  ", "\t"}));
}

TEST_F(ContactsCsvTest, CountsLinesForEveryKindOfLineEnd) {
  // LF, CRLF, a lone CR (old Mac), blank lines, ";;" empty records, a
  // quoted CRLF, and no line end at the end.
  const auto all = read_all(write(
      "ends.csv", "Nome;PEC\nA;a@pec.it\r\nB;b@pec.it\rC;c@pec.it\n\n;\r\n\"D\r\nE\";d@pec.it\nF;f@pec.it"));
  ASSERT_FALSE(all.error) << all.error->message;
  ASSERT_EQ(all.records.size(), 5u);
  EXPECT_EQ(all.records[0].row, 2u);
  EXPECT_EQ(all.records[1].row, 3u);
  EXPECT_EQ(all.records[2].row, 4u);
  EXPECT_EQ(all.records[2].values, (Values{"C", "c@pec.it"}));
  EXPECT_EQ(all.records[3].row, 7u);
  EXPECT_EQ(all.records[3].values, (Values{"D\r\nE", "d@pec.it"}));
  EXPECT_EQ(all.records[4].row, 9u);
  EXPECT_EQ(all.records[4].values, (Values{"F", "f@pec.it"}));
}

TEST_F(ContactsCsvTest, CountsACrLfCutByTheChunkBoundaryOnce) {
  std::string content = "Nome;PEC\n";
  content += std::string(k_chunk - 1 - content.size(), 'x');
  content += "\r\nA;a@pec.it\r\n"; // CR is the chunk's last byte, LF the next
  ASSERT_EQ(content[k_chunk - 1], '\r');
  const auto all = read_all(write("crlf.csv", content));
  ASSERT_FALSE(all.error) << all.error->message;
  ASSERT_EQ(all.records.size(), 2u);
  EXPECT_EQ(all.records[0].row, 2u);
  EXPECT_EQ(all.records[0].values.size(), 1u);
  EXPECT_EQ(all.records[1].row, 3u);
  EXPECT_EQ(all.records[1].values, (Values{"A", "a@pec.it"}));
}

TEST_F(ContactsCsvTest, ReturnsRaggedRecordsAsTheyAre) {
  const auto all = read_all(data("ragged.csv"));
  ASSERT_FALSE(all.error);
  ASSERT_EQ(all.records.size(), 3u);
  EXPECT_EQ(all.records[0].row, 2u);
  EXPECT_EQ(all.records[1].row, 4u);
  EXPECT_EQ(all.records[1].values, (Values{"Anna", "anna@pec.it"}));
  EXPECT_EQ(all.records[2].row, 6u);
  EXPECT_EQ(all.records[2].values, (Values{"Luca", "luca@pec.it", "Milano", "extra"}));
}

TEST_F(ContactsCsvTest, ReportsBrokenQuotesWithTheLine) {
  const auto all = read_all(data("broken-quotes.csv"));
  ASSERT_EQ(all.records.size(), 1u);
  ASSERT_TRUE(all.error);
  EXPECT_EQ(all.error->kind, core::ErrorKind::input);
  EXPECT_EQ(all.error->message.rfind(data("broken-quotes.csv") + ":3: malformed quotes", 0), 0u)
      << all.error->message;
}

TEST_F(ContactsCsvTest, PointsAtTheRecordStartWhenAQuoteRunsOn) {
  const auto path =
      write("runs-on.csv", "Nome;PEC\n\"Anna;anna@pec.it\nLuca;\"l\"uca@pec.it\n");
  const auto all = read_all(path);
  ASSERT_TRUE(all.error);
  EXPECT_EQ(all.error->message.rfind(path.string() + ":3: malformed quotes", 0), 0u);
  EXPECT_NE(all.error->message.find("(the record starts on line 2"), std::string::npos)
      << all.error->message;
}

TEST_F(ContactsCsvTest, ReportsUnterminatedQuotesAtTheEnd) {
  const auto all = read_all(data("unterminated-quote.csv"));
  ASSERT_EQ(all.records.size(), 1u);
  ASSERT_TRUE(all.error);
  EXPECT_EQ(all.error->message,
            data("unterminated-quote.csv") +
                ":3: unterminated quoted value: the quote opened in the record "
                "starting on this line is never closed");
}

TEST_F(ContactsCsvTest, RefusesQuotesInsideUnquotedValues) {
  const auto path = write("inner.csv", "Nome;PEC\nCaffè \"espresso\";a@pec.it\n");
  const auto all = read_all(path);
  ASSERT_TRUE(all.error);
  EXPECT_EQ(all.error->message.rfind(path.string() + ":2: malformed quotes", 0), 0u);
}

TEST_F(ContactsCsvTest, NeedsAHeader) {
  for (const char* content : {"", "\r\n\n", ";;\n"}) {
    const auto path = write("empty.csv", content);
    auto reader = contacts::open_reader(path, {});
    ASSERT_FALSE(reader);
    EXPECT_EQ(reader.error().kind, core::ErrorKind::input);
    EXPECT_EQ(reader.error().message,
              path.string() + ":1: no header row: the file is empty");
  }
}

TEST_F(ContactsCsvTest, FailsWithNoInputWhenTheFileIsMissing) {
  const auto path = dir() / "missing.csv";
  auto reader = contacts::open_reader(path, {});
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().kind, core::ErrorKind::no_input);
  EXPECT_EQ(reader.error().message,
            path.string() + ": cannot open: No such file or directory");

  auto directory = contacts::open_reader(dir(), {});
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().kind, core::ErrorKind::no_input);
}

TEST_F(ContactsCsvTest, RecognisesSpreadsheetsAndUtf16MisnamedAsCsv) {
  const auto zip = write("contatti.csv", std::string("PK\x03\x04rest", 8));
  auto reader = contacts::open_reader(zip, {});
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().message.rfind(zip.string() + ":1: this is a ZIP file", 0), 0u);

  const auto utf16 = write("unicode.csv", std::string("\xFF\xFEN\0o\0", 6));
  auto utf16_reader = contacts::open_reader(utf16, {});
  ASSERT_FALSE(utf16_reader);
  EXPECT_NE(utf16_reader.error().message.find("UTF-16"), std::string::npos);
}

TEST_F(ContactsCsvTest, ABomMeansUtf8WhateverTheSetting) {
  ReadOptions options;
  options.encoding = Encoding::windows1252;
  const auto all = read_all(write("bom.csv", "\xEF\xBB\xBFNome;PEC\nCittà;a@pec.it\n"), options);
  ASSERT_FALSE(all.error);
  EXPECT_EQ(all.header[0], "Nome");
  EXPECT_EQ(all.records[0].values[0], "Città");
}

TEST_F(ContactsCsvTest, DetectsTheFormat) {
  // Unknown extension, text content: CSV.
  const auto all = read_all(write("contatti.dat", "Nome;PEC\nA;a@pec.it\n"));
  ASSERT_FALSE(all.error);
  EXPECT_EQ(all.records[0].values, (Values{"A", "a@pec.it"}));
  // A format set in the options wins over the extension.
  ReadOptions options;
  options.format = Format::csv;
  const auto forced = read_all(write("contatti.xlsx", "Nome;PEC\nA;a@pec.it\n"), options);
  ASSERT_FALSE(forced.error);
  EXPECT_EQ(forced.records.size(), 1u);
}

TEST(ContactsOptionsTest, ParsesFormatsAndEncodings) {
  EXPECT_EQ(contacts::parse_format("auto"), Format::automatic);
  EXPECT_EQ(contacts::parse_format("CSV"), Format::csv);
  EXPECT_EQ(contacts::parse_format("Xlsx"), Format::xlsx);
  EXPECT_EQ(contacts::parse_format("xls"), Format::xls);
  EXPECT_FALSE(contacts::parse_format("ods").has_value());
  EXPECT_EQ(contacts::parse_encoding("UTF-8"), Encoding::utf8);
  EXPECT_EQ(contacts::parse_encoding("utf8"), Encoding::utf8);
  EXPECT_EQ(contacts::parse_encoding("windows-1252"), Encoding::windows1252);
  EXPECT_EQ(contacts::parse_encoding("CP1252"), Encoding::windows1252);
  EXPECT_EQ(contacts::parse_encoding("latin-1"), Encoding::latin1);
  EXPECT_EQ(contacts::parse_encoding("ISO-8859-1"), Encoding::latin1);
  EXPECT_FALSE(contacts::parse_encoding("utf-16").has_value());
}
