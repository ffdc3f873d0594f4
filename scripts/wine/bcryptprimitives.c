/*
 * bcryptprimitives.dll for Wine 8.0, which lacks it.
 *
 * Every Windows binary built by Rust >= 1.78 imports ProcessPrng from bcryptprimitives.dll;
 * without this DLL the test executables die at load time (exit status 53, no output).
 * ProcessPrng fills a buffer with random bytes and always succeeds; here it forwards to
 * BCryptGenRandom with the system-preferred RNG, in chunks (its length is a ULONG).
 *
 * Built by scripts/test.d/40-windows.sh:
 *   x86_64-w64-mingw32-gcc -shared -O2 -s -o bcryptprimitives.dll bcryptprimitives.c -lbcrypt
 */
#include <windows.h>
#include <bcrypt.h>

#ifndef BCRYPT_USE_SYSTEM_PREFERRED_RNG
#define BCRYPT_USE_SYSTEM_PREFERRED_RNG 0x00000002
#endif

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
