#include <gtest/gtest.h>

#include "api_auth.hpp"

using redisdr::ApiTokens;
using redisdr::constantTimeEquals;

namespace {
const std::string kOld(40, 'a');
const std::string kNew(48, 'b');
}  // namespace

TEST(ApiTokens, AcceptsEveryConfiguredTokenSoOneCanBeRotated) {
    ApiTokens tokens({kOld, kNew});
    EXPECT_TRUE(tokens.authorizes("Bearer " + kOld));
    EXPECT_TRUE(tokens.authorizes("Bearer " + kNew));
    EXPECT_TRUE(tokens.authorizes("bearer " + kNew));  // the scheme is case-insensitive (RFC 9110 11.1)
}

TEST(ApiTokens, RefusesAnythingElse) {
    ApiTokens tokens({kOld});
    EXPECT_FALSE(tokens.authorizes(""));
    EXPECT_FALSE(tokens.authorizes("Bearer "));
    EXPECT_FALSE(tokens.authorizes(kOld));                        // no scheme
    EXPECT_FALSE(tokens.authorizes("Basic " + kOld));             // another scheme
    EXPECT_FALSE(tokens.authorizes("Bearer " + kOld + "x"));      // a longer token
    EXPECT_FALSE(tokens.authorizes("Bearer " + kOld.substr(1)));  // a prefix of it
    EXPECT_FALSE(tokens.authorizes("Bearer " + kNew));
    EXPECT_FALSE(ApiTokens({}).authorizes("Bearer " + kOld));
}

TEST(ConstantTimeEquals, ComparesWholeStringsOfAnyLength) {
    EXPECT_TRUE(constantTimeEquals("", ""));
    EXPECT_TRUE(constantTimeEquals(kOld, kOld));
    EXPECT_FALSE(constantTimeEquals(kOld, kOld + std::string(1, '\0')));  // a trailing NUL is not padding
    EXPECT_FALSE(constantTimeEquals("abc", "abd"));
    EXPECT_FALSE(constantTimeEquals("abc", ""));
}
