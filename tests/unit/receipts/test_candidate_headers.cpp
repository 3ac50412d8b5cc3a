// parse_candidate_headers: the fields a poller reads before fetching.

#include <pecbatch/receipts/mailbox.hpp>

#include <gtest/gtest.h>

using pecbatch::receipts::parse_candidate_headers;

TEST(CandidateHeaders, ReadsTheFieldsOfAReceipt) {
  const auto h = parse_candidate_headers(
      "x-ricevuta: avvenuta-consegna\r\n"
      "X-Riferimento-Message-ID:\r\n <pecbatch.c1.0a1b.1@pec.test>\r\n"
      "Message-ID: <opec.123@pec.test>\r\n"
      "From: \"Per conto di: a@pec.test\" <posta-certificata@pec.test>\r\n"
      "\r\n");
  EXPECT_EQ(h.x_ricevuta, "avvenuta-consegna");
  EXPECT_EQ(h.x_riferimento_message_id, "pecbatch.c1.0a1b.1@pec.test");
  EXPECT_EQ(h.message_id, "opec.123@pec.test");
  EXPECT_EQ(h.from, "\"Per conto di: a@pec.test\" <posta-certificata@pec.test>");
  EXPECT_FALSE(h.x_trasporto);
  EXPECT_TRUE(h.from_provider());
}

TEST(CandidateHeaders, OrdinaryMailIsNotFromTheProvider) {
  const auto h =
      parse_candidate_headers("From: someone@example.com\nMessage-ID: <x@y>\n\n");
  EXPECT_FALSE(h.from_provider());
  EXPECT_EQ(h.message_id, "x@y");
  EXPECT_FALSE(parse_candidate_headers("").from_provider());
}

TEST(CandidateHeaders, FirstOccurrenceWinsAndNothingAfterTheBlankLine) {
  const auto h =
      parse_candidate_headers("X-Trasporto: errore\r\nX-Trasporto: "
                              "posta-certificata\r\n\r\nX-Ricevuta: accettazione\r\n");
  EXPECT_EQ(h.x_trasporto, "errore");
  EXPECT_FALSE(h.x_ricevuta);
}
