/* curio.cchannel: the cryptography of Channel authentication (lua/curio/channel.lua):
   HMAC-SHA256 from OpenSSL, random challenges from the kernel, and a comparison
   that takes the same time wherever the strings differ. */
#include "CLuaShim.h"
#include <errno.h>
#include <lauxlib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>

/* hmac_sha256(key, message) -> 32-byte digest */
static int l_hmac(lua_State *L) {
    size_t klen, mlen;
    const char *key = luaL_checklstring(L, 1, &klen);
    const char *msg = luaL_checklstring(L, 2, &mlen);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &n))
        return luaL_error(L, "HMAC-SHA256 failed");
    lua_pushlstring(L, (const char *)out, n);
    return 1;
}

/* random(n) -> n random bytes (getrandom) */
static int l_random(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0 && n <= 256, 1, "0..256 expected");
    unsigned char buf[256];
    size_t have = 0;
    while (have < (size_t)n) {
        ssize_t r = getrandom(buf + have, (size_t)n - have, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return luaL_error(L, "getrandom failed (errno %d)", errno);
        }
        have += (size_t)r;
    }
    lua_pushlstring(L, (const char *)buf, (size_t)n);
    return 1;
}

/* equal(a, b) -> whether equal, in time independent of where they differ */
static int l_equal(lua_State *L) {
    size_t al, bl;
    const char *a = luaL_checklstring(L, 1, &al);
    const char *b = luaL_checklstring(L, 2, &bl);
    lua_pushboolean(L, al == bl && CRYPTO_memcmp(a, b, al) == 0);
    return 1;
}

int cl_open_channel(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"hmac_sha256", l_hmac}, {"random", l_random}, {"equal", l_equal}, {NULL, NULL},
    };
    luaL_newlib(L, fns);
    return 1;
}
