// XLSX (Office Open XML spreadsheet) reader on libzip and pugixml.
//
// The workbook's parts are found the way Office does: _rels/.rels names the
// workbook, the workbook's relationships name its sheets, shared strings and
// styles. The chosen sheet's XML is parsed in place (one DOM, no copy of the
// rows); records are built one row element at a time.

#include "reader_impl.hpp"
#include "values.hpp"

#include <pecbatch/core/strings.hpp>

#include <pugixml.hpp>
#include <zip.h>

#include <charconv>
#include <map>
#include <memory>

namespace pecbatch::contacts::detail {

namespace {

using ZipPtr = std::unique_ptr<zip_t, void (*)(zip_t*)>;

// The name of `name` without its namespace prefix: "x:row" -> "row".
std::string_view local_name(const char* name) {
  const std::string_view s(name);
  const auto colon = s.find(':');
  return colon == std::string_view::npos ? s : s.substr(colon + 1);
}

// The first child element of `node` with local name `name`.
pugi::xml_node child(pugi::xml_node node, std::string_view name) {
  for (auto c : node.children()) {
    if (c.type() == pugi::node_element && local_name(c.name()) == name) {
      return c;
    }
  }
  return {};
}

// The next sibling element of `node` with local name `name`.
pugi::xml_node next_sibling(pugi::xml_node node, std::string_view name) {
  for (auto c = node.next_sibling(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && local_name(c.name()) == name) {
      return c;
    }
  }
  return {};
}

// The attribute of `node` with local name `name` ("r:id" for "id").
pugi::xml_attribute attribute(pugi::xml_node node, std::string_view name) {
  for (auto a : node.attributes()) {
    if (local_name(a.name()) == name) {
      return a;
    }
  }
  return {};
}

// The text of a string item (<si> or <is>): its <t>, or the <t> of each
// rich text run <r>; phonetic runs (<rPh>) are not part of the value.
std::string string_item_text(pugi::xml_node item) {
  std::string out;
  for (auto c : item.children()) {
    const auto name = local_name(c.name());
    if (name == "t") {
      out += c.text().get();
    } else if (name == "r") {
      for (auto t : c.children()) {
        if (local_name(t.name()) == "t") {
          out += t.text().get();
        }
      }
    }
  }
  return decode_ooxml_escapes(out);
}

// The directory part of a part name: "xl/workbook.xml" -> "xl/".
std::string directory_of(std::string_view part) {
  const auto slash = part.rfind('/');
  return slash == std::string_view::npos ? std::string()
                                         : std::string(part.substr(0, slash + 1));
}

// Resolves a relationship target against the directory of its source part.
std::string resolve(std::string_view base_dir, std::string_view target) {
  std::string joined;
  if (!target.empty() && target.front() == '/') {
    joined = std::string(target.substr(1));
  } else {
    joined = std::string(base_dir) + std::string(target);
  }
  std::vector<std::string> parts;
  for (auto& segment : core::split(joined, '/')) {
    if (segment.empty() || segment == ".") {
      continue;
    }
    if (segment == "..") {
      if (!parts.empty()) {
        parts.pop_back();
      }
      continue;
    }
    parts.push_back(segment);
  }
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) {
      out += '/';
    }
    out += part;
  }
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

struct Relationship {
  std::string type;
  std::string target; // resolved part name
};

// An ISO 8601 value of a `t="d"` cell, as YYYY-MM-DD[ HH:MM:SS].
std::string iso_date_text(std::string_view value) {
  std::string text(value);
  if (!text.empty() && (text.back() == 'Z' || text.back() == 'z')) {
    text.pop_back();
  }
  const auto t = text.find('T');
  if (t == std::string::npos) {
    return text;
  }
  std::string time = text.substr(t + 1);
  const auto dot = time.find('.');
  if (dot != std::string::npos) {
    time.resize(dot);
  }
  if (time == "00:00:00" || time == "00:00") {
    return text.substr(0, t);
  }
  return text.substr(0, t) + ' ' + time;
}

class XlsxReader final : public ReaderBase {
public:
  XlsxReader(std::filesystem::path path, ZipPtr zip)
      : m_path(std::move(path)), m_zip(std::move(zip)) {}

  // Finds and parses the parts, then reads up to the header.
  core::Status start(const std::string& sheet_name) {
    std::string workbook_part = "xl/workbook.xml";
    if (has_part("_rels/.rels")) {
      PB_TRY_ASSIGN(auto package_rels, read_relationships("_rels/.rels", ""));
      for (const auto& [id, rel] : package_rels) {
        if (ends_with(rel.type, "/officeDocument")) {
          workbook_part = rel.target;
          break;
        }
      }
    }
    const std::string workbook_dir = directory_of(workbook_part);
    const std::string workbook_file =
        workbook_part.substr(workbook_dir.size());
    PB_TRY_ASSIGN(const auto workbook_rels,
                  read_relationships(workbook_dir + "_rels/" + workbook_file + ".rels",
                                     workbook_dir));
    PB_TRY_ASSIGN(const std::string sheet_part,
                  find_sheet(workbook_part, workbook_rels, sheet_name));

    std::string shared_strings_part;
    std::string styles_part;
    for (const auto& [id, rel] : workbook_rels) {
      if (ends_with(rel.type, "/sharedStrings")) {
        shared_strings_part = rel.target;
      } else if (ends_with(rel.type, "/styles")) {
        styles_part = rel.target;
      }
    }
    if (!shared_strings_part.empty() && has_part(shared_strings_part)) {
      PB_TRY(load_shared_strings(shared_strings_part));
    }
    if (!styles_part.empty() && has_part(styles_part)) {
      PB_TRY(load_styles(styles_part));
    }
    PB_TRY(load_sheet(sheet_part));

    PB_TRY_ASSIGN(auto first, next_row());
    if (!first) {
      return core::make_error(core::ErrorKind::input,
                              m_path.string() + ":1: no header row: sheet " +
                                  core::quote(m_sheet_name) + " is empty");
    }
    m_header = make_header(std::move(first->values), true);
    m_header_row = first->row;
    return {};
  }

  const std::vector<std::string>& header() const override { return m_header; }

  std::uint64_t header_row() const override { return m_header_row; }

  core::Result<std::optional<Record>> next() override { return next_row(); }

private:
  core::Error file_error(const std::string& message) const {
    return core::make_error(core::ErrorKind::input,
                            m_path.string() + ": not a valid XLSX file: " + message);
  }

  zip_int64_t locate(const std::string& part) const {
    zip_int64_t index = zip_name_locate(m_zip.get(), part.c_str(), 0);
    if (index < 0) {
      // Part names are case-insensitive (OPC).
      index = zip_name_locate(m_zip.get(), part.c_str(), ZIP_FL_NOCASE);
    }
    return index;
  }

  bool has_part(const std::string& part) const { return locate(part) >= 0; }

  // Reads a whole part, refusing more than k_max_xlsx_part_size bytes.
  core::Result<std::string> read_part(const std::string& part) const {
    const zip_int64_t index = locate(part);
    if (index < 0) {
      return file_error("part " + part + " is missing");
    }
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(m_zip.get(), static_cast<zip_uint64_t>(index), 0, &stat) != 0 ||
        (stat.valid & ZIP_STAT_SIZE) == 0) {
      return file_error("cannot read part " + part + ": " + zip_strerror(m_zip.get()));
    }
    if (stat.size > k_max_xlsx_part_size) {
      return core::make_error(
          core::ErrorKind::input,
          m_path.string() + ": part " + part + " would be " +
              std::to_string(stat.size) + " bytes uncompressed, more than the " +
              std::to_string(k_max_xlsx_part_size / (1024 * 1024)) +
              " MiB accepted (a damaged file or a zip bomb?); save the "
              "contacts as CSV");
    }
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(
        zip_fopen_index(m_zip.get(), static_cast<zip_uint64_t>(index), 0),
        &zip_fclose);
    if (!file) {
      return file_error("cannot open part " + part + ": " + zip_strerror(m_zip.get()));
    }
    std::string data(static_cast<std::size_t>(stat.size), '\0');
    std::size_t done = 0;
    while (done < data.size()) {
      const zip_int64_t n = zip_fread(file.get(), data.data() + done, data.size() - done);
      if (n < 0) {
        return file_error("cannot read part " + part + ": " +
                          zip_file_strerror(file.get()));
      }
      if (n == 0) {
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    if (done != data.size()) {
      return file_error("part " + part + " is truncated");
    }
    return data;
  }

  // Parses `xml` in place into `doc`.
  core::Status parse(const std::string& part, std::string& xml,
                     pugi::xml_document& doc) const {
    // ws_pcdata_single keeps <t xml:space="preserve"> </t>.
    const auto result = doc.load_buffer_inplace(
        xml.data(), xml.size(), pugi::parse_default | pugi::parse_ws_pcdata_single);
    if (!result) {
      return file_error("part " + part + ": XML error at byte " +
                        std::to_string(result.offset) + ": " + result.description());
    }
    return {};
  }

  // Relationship id -> relationship, targets resolved against `base_dir`.
  core::Result<std::map<std::string, Relationship>> read_relationships(
      const std::string& part, const std::string& base_dir) const {
    PB_TRY_ASSIGN(std::string xml, read_part(part));
    pugi::xml_document doc;
    PB_TRY(parse(part, xml, doc));
    std::map<std::string, Relationship> rels;
    const auto root = child(doc, "Relationships");
    for (auto rel = child(root, "Relationship"); rel; rel = next_sibling(rel, "Relationship")) {
      if (std::string_view(rel.attribute("TargetMode").value()) == "External") {
        continue;
      }
      rels[rel.attribute("Id").value()] =
          Relationship{rel.attribute("Type").value(),
                       resolve(base_dir, rel.attribute("Target").value())};
    }
    return rels;
  }

  // The part name of the sheet called `wanted` (empty: the first
  // worksheet); also reads the workbook's date system.
  core::Result<std::string> find_sheet(const std::string& workbook_part,
                                       const std::map<std::string, Relationship>& rels,
                                       const std::string& wanted) {
    PB_TRY_ASSIGN(std::string xml, read_part(workbook_part));
    pugi::xml_document doc;
    PB_TRY(parse(workbook_part, xml, doc));
    const auto workbook = child(doc, "workbook");
    const std::string_view date1904 =
        child(workbook, "workbookPr").attribute("date1904").value();
    m_date1904 = date1904 == "1" || date1904 == "true";

    struct Sheet {
      std::string name;
      std::string part;
    };
    std::vector<Sheet> sheets;
    const auto sheets_node = child(workbook, "sheets");
    for (auto sheet = child(sheets_node, "sheet"); sheet; sheet = next_sibling(sheet, "sheet")) {
      const auto rel = rels.find(attribute(sheet, "id").value());
      if (rel == rels.end() || !ends_with(rel->second.type, "/worksheet")) {
        continue; // chart sheets, dialog sheets, macro sheets
      }
      sheets.push_back({sheet.attribute("name").value(), rel->second.target});
    }
    if (sheets.empty()) {
      return file_error("the workbook has no worksheet");
    }
    if (wanted.empty()) {
      m_sheet_name = sheets.front().name;
      return sheets.front().part;
    }
    for (const auto& sheet : sheets) {
      if (sheet.name == wanted) {
        m_sheet_name = sheet.name;
        return sheet.part;
      }
    }
    for (const auto& sheet : sheets) {
      if (core::iequals_ascii(sheet.name, wanted)) {
        m_sheet_name = sheet.name;
        return sheet.part;
      }
    }
    std::vector<std::string> names;
    for (const auto& sheet : sheets) {
      names.push_back(sheet.name);
    }
    std::string message = m_path.string() + ": no sheet named " + core::quote(wanted) +
                          "; the sheets are " + quoted_list(names);
    if (auto guess = core::suggest(wanted, names)) {
      message += " (did you mean " + core::quote(*guess) + "?)";
    }
    return core::make_error(core::ErrorKind::input, message);
  }

  core::Status load_shared_strings(const std::string& part) {
    PB_TRY_ASSIGN(std::string xml, read_part(part));
    pugi::xml_document doc;
    PB_TRY(parse(part, xml, doc));
    const auto sst = child(doc, "sst");
    for (auto si = child(sst, "si"); si; si = next_sibling(si, "si")) {
      m_shared_strings.push_back(string_item_text(si));
    }
    return {};
  }

  core::Status load_styles(const std::string& part) {
    PB_TRY_ASSIGN(std::string xml, read_part(part));
    pugi::xml_document doc;
    PB_TRY(parse(part, xml, doc));
    const auto style_sheet = child(doc, "styleSheet");
    std::map<unsigned, NumberKind> custom;
    const auto formats = child(style_sheet, "numFmts");
    for (auto fmt = child(formats, "numFmt"); fmt; fmt = next_sibling(fmt, "numFmt")) {
      custom[fmt.attribute("numFmtId").as_uint()] =
          classify_format_code(fmt.attribute("formatCode").value());
    }
    const auto xfs = child(style_sheet, "cellXfs");
    for (auto xf = child(xfs, "xf"); xf; xf = next_sibling(xf, "xf")) {
      const unsigned id = xf.attribute("numFmtId").as_uint();
      const auto found = custom.find(id);
      m_style_kinds.push_back(found != custom.end() ? found->second
                                                    : classify_builtin_format(id));
    }
    return {};
  }

  core::Status load_sheet(const std::string& part) {
    PB_TRY_ASSIGN(m_sheet_xml, read_part(part));
    PB_TRY(parse(part, m_sheet_xml, m_sheet));
    const auto data = child(child(m_sheet, "worksheet"), "sheetData");
    m_next_row = child(data, "row");
    return {};
  }

  // The next non-empty row, nullopt after the last.
  core::Result<std::optional<Record>> next_row() {
    while (m_next_row) {
      const auto row = m_next_row;
      m_next_row = next_sibling(row, "row");
      const auto r = row.attribute("r");
      const std::uint64_t number = r ? r.as_ullong() : m_last_row + 1;
      m_last_row = number;

      std::vector<std::string> values;
      std::size_t column = 0;
      for (auto cell = child(row, "c"); cell; cell = next_sibling(cell, "c")) {
        if (const auto ref = cell.attribute("r")) {
          const auto index = column_index(ref.value());
          if (!index) {
            return input_error(m_path, number,
                               "bad cell reference " + core::quote(ref.value()));
          }
          column = *index;
        }
        PB_TRY_ASSIGN(std::string value, cell_text(cell, number));
        if (column >= values.size()) {
          values.resize(column + 1);
        }
        values[column] = std::move(value);
        ++column;
      }
      fit_spreadsheet_row(values, m_header.size());
      if (all_empty(values)) {
        continue;
      }
      return std::optional<Record>(Record{number, std::move(values)});
    }
    return std::optional<Record>();
  }

  core::Result<std::string> cell_text(pugi::xml_node cell, std::uint64_t row) const {
    const std::string_view type = cell.attribute("t").value();
    const std::string_view value = child(cell, "v").text().get();
    if (type == "s") {
      std::size_t index = 0;
      const auto parsed =
          std::from_chars(value.data(), value.data() + value.size(), index);
      if (parsed.ec != std::errc() || index >= m_shared_strings.size()) {
        return input_error(m_path, row,
                           "shared string " + core::quote(value) + " does not exist");
      }
      return m_shared_strings[index];
    }
    if (type == "inlineStr") {
      if (const auto is = child(cell, "is")) {
        return string_item_text(is);
      }
      return decode_ooxml_escapes(value);
    }
    if (type == "str") {
      return decode_ooxml_escapes(value);
    }
    if (type == "b") {
      if (value.empty()) {
        return std::string();
      }
      return std::string(value == "0" ? "FALSE" : "TRUE");
    }
    if (type == "e") {
      return std::string(value);
    }
    if (type == "d") {
      return iso_date_text(value);
    }
    // A number (t="n" or no type).
    if (value.empty()) {
      return std::string();
    }
    double number = 0;
    const auto parsed = std::from_chars(value.data(), value.data() + value.size(), number);
    if (parsed.ec != std::errc() || parsed.ptr != value.data() + value.size()) {
      return std::string(value);
    }
    NumberKind kind = NumberKind::number;
    const auto style = cell.attribute("s");
    if (style && style.as_uint() < m_style_kinds.size()) {
      kind = m_style_kinds[style.as_uint()];
    }
    return format_serial(number, kind, m_date1904);
  }

  std::filesystem::path m_path;
  ZipPtr m_zip;
  std::string m_sheet_name;
  bool m_date1904 = false;
  std::vector<std::string> m_shared_strings;
  std::vector<NumberKind> m_style_kinds; // by cellXfs index

  std::string m_sheet_xml; // parsed in place: m_sheet points into it
  pugi::xml_document m_sheet;
  pugi::xml_node m_next_row;
  std::uint64_t m_last_row = 0;

  std::vector<std::string> m_header;
  std::uint64_t m_header_row = 0;
};

} // namespace

core::Result<std::unique_ptr<ReaderBase>> open_xlsx_reader(
    const std::filesystem::path& path, const ReadOptions& options) {
  int code = 0;
  zip_t* raw = zip_open(path.c_str(), ZIP_RDONLY, &code);
  if (raw == nullptr) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    std::string reason = zip_error_strerror(&error);
    zip_error_fini(&error);
    if (code == ZIP_ER_NOZIP) {
      reason = "not a ZIP archive (password-protected workbooks are not "
               "supported: remove the password, or save as CSV)";
    }
    const auto kind =
        code == ZIP_ER_OPEN || code == ZIP_ER_NOENT || code == ZIP_ER_READ
            ? core::ErrorKind::no_input
            : core::ErrorKind::input;
    if (kind == core::ErrorKind::no_input) {
      return core::make_error(kind, path.string() + ": cannot open: " + reason);
    }
    return core::make_error(kind, path.string() + ": not a valid XLSX file: " + reason);
  }
  auto reader = std::make_unique<XlsxReader>(path, ZipPtr(raw, &zip_discard));
  PB_TRY(reader->start(options.sheet));
  return std::unique_ptr<ReaderBase>(std::move(reader));
}

} // namespace pecbatch::contacts::detail
