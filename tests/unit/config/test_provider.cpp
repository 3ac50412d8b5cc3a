#include <pecbatch/config/provider.hpp>

#include <gtest/gtest.h>

#include <algorithm>

using namespace pecbatch::config;

TEST(ProviderProfileTest, AllDocumentedProfilesExist) {
  for (const char* name : {"aruba", "legalmail", "namirial", "poste", "register", "custom"}) {
    const auto* profile = find_provider_profile(name);
    ASSERT_NE(profile, nullptr) << name;
    EXPECT_FALSE(profile->limits.source.empty()) << name;
    EXPECT_FALSE(profile->endpoints.source.empty()) << name;
    EXPECT_GT(profile->max_message_bytes, 0u) << name;
  }
  EXPECT_EQ(find_provider_profile("gmail"), nullptr);
}

TEST(ProviderProfileTest, LegalmailIsSixPerMinute) {
  const auto* legalmail = find_provider_profile("legalmail");
  ASSERT_NE(legalmail, nullptr);
  EXPECT_EQ(legalmail->rate_per_minute, 6u);
  EXPECT_EQ(legalmail->smtp_host, "sendm.cert.legalmail.it");
  EXPECT_EQ(legalmail->smtp_port, 465);
  EXPECT_EQ(legalmail->smtp_security, Security::tls);
}

TEST(ProviderProfileTest, NothingIsClaimedVerified) {
  // No profile was tried against a real account (PROVIDERS.md).
  for (const auto& profile : provider_profiles()) {
    EXPECT_FALSE(profile.endpoints.verified) << profile.name;
    EXPECT_FALSE(profile.limits.verified) << profile.name;
  }
}

TEST(ProviderProfileTest, ExecutablesAreBlocked) {
  const auto& blocked = default_blocked_extensions();
  for (const char* ext : {"exe", "bat", "scr", "js", "vbs", "cmd"}) {
    EXPECT_NE(std::find(blocked.begin(), blocked.end(), ext), blocked.end()) << ext;
  }
  EXPECT_EQ(std::find(blocked.begin(), blocked.end(), "pdf"), blocked.end());
}
