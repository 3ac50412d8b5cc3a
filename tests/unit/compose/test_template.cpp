#include <pecbatch/compose/template.hpp>

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

namespace pecbatch::compose {
namespace {

using Values = std::map<std::string, std::string>;

Template parse_ok(const std::string& text, Escaping escaping = Escaping::none) {
  auto parsed = Template::parse("t.txt", text, escaping);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
  return std::move(parsed).value_or_throw();
}

std::string parse_error(const std::string& name, const std::string& text) {
  auto parsed = Template::parse(name, text, Escaping::none);
  EXPECT_FALSE(parsed.ok());
  if (parsed.ok()) {
    return {};
  }
  EXPECT_EQ(parsed.error().kind, core::ErrorKind::config);
  return parsed.error().message;
}

std::vector<std::pair<std::string, std::uint64_t>> field_list(const Template& t) {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const auto& field : t.fields()) {
    out.emplace_back(field.name, field.line);
  }
  return out;
}

TEST(TemplateTest, ListsFieldsInOrderOfFirstUseWithLines) {
  const auto t = parse_ok("Gentile {{nome}},\n"
                          "{{#importo}}Importo: {{importo}} euro{{/importo}}\n"
                          "{{! nota interna: {{ignorato}} no }}\n"
                          "{{{raw}}} {{&amp}} {{ spazi }}\n"
                          "{{^scadenza}}nessuna scadenza{{/scadenza}}\n"
                          "{{nome}} {{#lista}}{{.}}{{/lista}}\n");
  using Fields = std::vector<std::pair<std::string, std::uint64_t>>;
  EXPECT_EQ(field_list(t), (Fields{{"nome", 1},
                                   {"importo", 2},
                                   {"raw", 4},
                                   {"amp", 4},
                                   {"spazi", 4},
                                   {"scadenza", 5},
                                   {"lista", 6}}));
  EXPECT_EQ(t.name(), "t.txt");
}

TEST(TemplateTest, CountsLinesWithCrLfAndCr) {
  const auto t = parse_ok("uno\r\ndue\r\n{{a}}\rquattro {{b}}\n\n{{c}}");
  using Fields = std::vector<std::pair<std::string, std::uint64_t>>;
  EXPECT_EQ(field_list(t), (Fields{{"a", 3}, {"b", 4}, {"c", 6}}));
}

TEST(TemplateTest, FieldNamesWithDotsAndSpacesAreFlat) {
  const auto t = parse_ok("P.IVA {{P.IVA}}, {{Ragione sociale}}");
  ASSERT_EQ(t.fields().size(), 2U);
  EXPECT_EQ(t.fields()[0].name, "P.IVA");
  EXPECT_EQ(t.fields()[1].name, "Ragione sociale");
  EXPECT_EQ(t.render({{"P.IVA", "01234567890"}, {"Ragione sociale", "Rossi S.r.l."}}),
            "P.IVA 01234567890, Rossi S.r.l.");
}

TEST(TemplateTest, UnclosedTagReportsNameAndLine) {
  EXPECT_EQ(parse_error("msg.txt", "riga uno\nriga due {{nome\nriga tre\n"),
            "msg.txt:2: unclosed tag (missing \"}}\")");
  EXPECT_EQ(parse_error("subject", "Fattura {{{numero}}"),
            "subject:1: unclosed tag (missing \"}}\")");
}

TEST(TemplateTest, UnclosedSectionReportsLineOfOpeningTag) {
  EXPECT_EQ(parse_error("msg.html", "<p>\n\n{{#scadenza}}\nentro il {{scadenza}}\n</p>"),
            "msg.html:3: section \"scadenza\" is never closed, or closed out of order");
}

TEST(TemplateTest, UnopenedSectionReportsLineOfClosingTag) {
  EXPECT_EQ(parse_error("msg.txt", "uno\r\ndue\r\n{{/scadenza}}"),
            "msg.txt:3: closing tag for section \"scadenza\" that is not open");
}

TEST(TemplateTest, MisnestedSectionsAreAnError) {
  const auto message = parse_error("t", "{{#a}}\n{{#b}}\n{{/a}}\n{{/b}}");
  EXPECT_EQ(message, "t:1: section \"a\" is never closed, or closed out of order");
}

TEST(TemplateTest, PartialsAreRefusedWithLine) {
  EXPECT_EQ(parse_error("msg.txt", "Saluti\n\n{{> firma}}\n"),
            "msg.txt:3: partials ({{>firma}}) are not supported");
}

TEST(TemplateTest, DelimiterChangesAreRefusedWithLine) {
  EXPECT_EQ(parse_error("msg.txt", "uno\n{{=<% %>=}}\n<% nome %>\n"),
            "msg.txt:2: delimiter changes ({{=...=}}) are not supported");
}

TEST(TemplateTest, EmptyTagIsRefused) {
  EXPECT_EQ(parse_error("t", "a\nb {{ }}"), "t:2: empty tag name");
  EXPECT_EQ(parse_error("t", "{{#}}x{{/}}"), "t:1: empty tag name");
}

TEST(TemplateTest, HtmlEscapingEscapesValues) {
  const auto t = parse_ok("<p>{{v}}</p>{{{v}}}{{&v}}", Escaping::html);
  EXPECT_EQ(t.render({{"v", "<b>Rossi & \"Figli\" l'Aquila</b>"}}),
            "<p>&lt;b&gt;Rossi &amp; &quot;Figli&quot; l&apos;Aquila&lt;/b&gt;</p>"
            "<b>Rossi & \"Figli\" l'Aquila</b><b>Rossi & \"Figli\" l'Aquila</b>");
}

TEST(TemplateTest, NoEscapingKeepsValuesAsTheyAre) {
  const auto t = parse_ok("Fattura {{v}} per {{c}}", Escaping::none);
  EXPECT_EQ(t.render({{"v", "<12> & 'B'"}, {"c", "Città \"Sant'Anna\""}}),
            "Fattura <12> & 'B' per Città \"Sant'Anna\"");
}

TEST(TemplateTest, EmptyValueIsFalseInSections) {
  const auto t = parse_ok("{{#f}}sì{{/f}}{{^f}}no{{/f}}");
  EXPECT_EQ(t.render({{"f", ""}}), "no");
  EXPECT_EQ(t.render({{"f", "x"}}), "sì");
  EXPECT_EQ(t.render({{"f", "0"}}), "sì");
  EXPECT_EQ(t.render({}), "no");
}

TEST(TemplateTest, EmptyValueRendersAsEmpty) {
  const auto t = parse_ok("[{{f}}][{{{f}}}][{{&f}}]", Escaping::html);
  EXPECT_EQ(t.render({{"f", ""}}), "[][][]");
}

TEST(TemplateTest, MissingFieldRendersAsEmpty) {
  const auto t = parse_ok("Gentile {{nome}}.");
  EXPECT_EQ(t.render({}), "Gentile .");
}

TEST(TemplateTest, ValueIsVisibleInsideItsSection) {
  const auto t = parse_ok("{{#scadenza}}Scade il {{scadenza}} ({{.}}){{/scadenza}}");
  EXPECT_EQ(t.render({{"scadenza", "31/03/2025"}}), "Scade il 31/03/2025 (31/03/2025)");
}

TEST(TemplateTest, StandaloneSectionLinesLeaveNoBlankLines) {
  const auto t = parse_ok("Riga\n{{#f}}\nDentro {{f}}\n{{/f}}\nFine\n");
  EXPECT_EQ(t.render({{"f", "1"}}), "Riga\nDentro 1\nFine\n");
  EXPECT_EQ(t.render({{"f", ""}}), "Riga\nFine\n");
}

TEST(TemplateTest, StandaloneLinesKeepWantedBlankLines) {
  const auto t = parse_ok("A\n\n  {{#f}}  \n\nX\n\t{{/f}}\n\nB\n");
  EXPECT_EQ(t.render({{"f", "1"}}), "A\n\n\nX\n\nB\n");
  EXPECT_EQ(t.render({}), "A\n\n\nB\n");
}

TEST(TemplateTest, StandaloneInvertedNestedAndCommentLines) {
  const auto t = parse_ok("Gentile cliente,\r\n"
                          "{{! riga di commento }}\r\n"
                          "{{#importo}}\r\n"
                          "{{#scadenza}}\r\n"
                          "Importo {{importo}} entro il {{scadenza}}.\r\n"
                          "{{/scadenza}}\r\n"
                          "{{^scadenza}}\r\n"
                          "Importo {{importo}}.\r\n"
                          "{{/scadenza}}\r\n"
                          "{{/importo}}\r\n"
                          "Saluti");
  EXPECT_EQ(t.render({{"importo", "10"}, {"scadenza", "31/3"}}),
            "Gentile cliente,\r\nImporto 10 entro il 31/3.\r\nSaluti");
  EXPECT_EQ(t.render({{"importo", "10"}}),
            "Gentile cliente,\r\nImporto 10.\r\nSaluti");
  EXPECT_EQ(t.render({}), "Gentile cliente,\r\nSaluti");
}

TEST(TemplateTest, InlineSectionsKeepTheirLine) {
  const auto t = parse_ok("Uno{{#f}} e due{{/f}}.\n{{#f}}[{{f}}]{{/f}}\nFine");
  EXPECT_EQ(t.render({{"f", "x"}}), "Uno e due.\n[x]\nFine");
  // Not a standalone line (the section is not alone on it): it stays, empty.
  EXPECT_EQ(t.render({}), "Uno.\n\nFine");
}

TEST(TemplateTest, ErrorLinesCountStandaloneLines) {
  EXPECT_EQ(parse_error("t", "{{#a}}\n{{/a}}\n{{! c }}\nx {{y\n"),
            "t:4: unclosed tag (missing \"}}\")");
  EXPECT_EQ(parse_error("t", "{{#a}}\n{{/a}}\n\n{{>p}}\n"),
            "t:4: partials ({{>p}}) are not supported");
}

TEST(TemplateTest, ValuesAreNeverParsedAsTemplates) {
  const auto text = parse_ok("Nome: {{nome}} {{#nome}}({{nome}}){{/nome}}");
  const Values values{{"nome", "{{segreto}} {{#x}}y{{/x}} {{> p}} {{=| |=}}"},
                      {"segreto", "LEAK"}};
  EXPECT_EQ(text.render(values),
            "Nome: {{segreto}} {{#x}}y{{/x}} {{> p}} {{=| |=}} "
            "({{segreto}} {{#x}}y{{/x}} {{> p}} {{=| |=}})");
  const auto html = parse_ok("{{nome}}", Escaping::html);
  EXPECT_EQ(html.render(values),
            "{{segreto}} {{#x}}y{{/x}} {{&gt; p}} {{=| |=}}");
}

TEST(TemplateTest, Utf8PassesThrough) {
  const auto t = parse_ok("Fattura n. {{n}} — scadenza {{città}}");
  EXPECT_EQ(t.fields()[1].name, "città");
  EXPECT_EQ(t.render({{"n", "12"}, {"città", "Forlì"}}),
            "Fattura n. 12 — scadenza Forlì");
}

TEST(TemplateTest, MovedTemplateStillRenders) {
  auto t = parse_ok("{{a}}");
  Template moved = std::move(t);
  EXPECT_EQ(moved.render({{"a", "x"}}), "x");
  auto other = parse_ok("{{b}}");
  other = std::move(moved);
  EXPECT_EQ(other.render({{"a", "y"}}), "y");
}

TEST(TemplateTest, OneTemplateCanRenderFromSeveralThreads) {
  const auto t = parse_ok("{{#a}}<{{a}}>{{/a}}", Escaping::html);
  std::vector<std::thread> threads;
  std::vector<std::string> results(8);
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&t, &results, i] {
      for (int n = 0; n < 200; ++n) {
        results[i] = t.render({{"a", std::to_string(i)}});
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i], "<" + std::to_string(i) + ">");
  }
}

} // namespace
} // namespace pecbatch::compose
