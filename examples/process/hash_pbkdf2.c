/* The seeds' CPU-bound hashing on processes: PBKDF2-HMAC-SHA256 (implemented here, no
 * OpenSSL), hashed serially and then on a process pool with cfut_executor_map
 * (chunksize 2, as in the seed), and the speed-up printed. The results must match. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfutures.h"

/* ---- SHA-256 (FIPS 180-4) ---- */
typedef struct {
    uint32_t h[8];
    uint8_t buf[64];
    size_t n;
    uint64_t bits;
} sha256;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(sha256 *s, const uint8_t *p) {
    uint32_t w[64], a, b, c, d, e, f, g, h;
    for (int i = 0; i < 16; i++) w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d, s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha256_init(sha256 *s) {
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof iv);
    s->n = 0;
    s->bits = 0;
}

static void sha256_update(sha256 *s, const void *data, size_t len) {
    const uint8_t *p = data;
    s->bits += (uint64_t)len * 8;
    while (len--) {
        s->buf[s->n++] = *p++;
        if (s->n == 64) {
            sha256_block(s, s->buf);
            s->n = 0;
        }
    }
}

static void sha256_final(sha256 *s, uint8_t out[32]) {
    uint64_t bits = s->bits;
    uint8_t pad = 0x80, zero = 0;
    sha256_update(s, &pad, 1);
    while (s->n != 56) sha256_update(s, &zero, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(s, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24), out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8), out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

/* ---- HMAC-SHA256 with precomputed pads, and PBKDF2 (RFC 8018) ---- */
typedef struct {
    sha256 inner, outer;
} hmac;

static void hmac_init(hmac *m, const uint8_t *key, size_t klen) {
    uint8_t k[64] = {0}, ipad[64], opad[64];
    if (klen > 64) {
        sha256 s;
        sha256_init(&s);
        sha256_update(&s, key, klen);
        sha256_final(&s, k);
    } else {
        memcpy(k, key, klen);
    }
    for (int i = 0; i < 64; i++) ipad[i] = k[i] ^ 0x36, opad[i] = k[i] ^ 0x5c;
    sha256_init(&m->inner);
    sha256_update(&m->inner, ipad, 64);
    sha256_init(&m->outer);
    sha256_update(&m->outer, opad, 64);
}

static void hmac_run(const hmac *m, const uint8_t *msg, size_t len, uint8_t out[32]) {
    sha256 s = m->inner;
    uint8_t t[32];
    sha256_update(&s, msg, len);
    sha256_final(&s, t);
    s = m->outer;
    sha256_update(&s, t, 32);
    sha256_final(&s, out);
}

static void pbkdf2_sha256(const char *pw, const char *salt, uint32_t iters, uint8_t *out, size_t dklen) {
    hmac m;
    hmac_init(&m, (const uint8_t *)pw, strlen(pw));
    size_t slen = strlen(salt);
    uint8_t *msg = malloc(slen + 4);
    memcpy(msg, salt, slen);
    for (uint32_t block = 1; dklen > 0; block++) {
        msg[slen] = (uint8_t)(block >> 24), msg[slen + 1] = (uint8_t)(block >> 16);
        msg[slen + 2] = (uint8_t)(block >> 8), msg[slen + 3] = (uint8_t)block;
        uint8_t u[32], t[32];
        hmac_run(&m, msg, slen + 4, u);
        memcpy(t, u, 32);
        for (uint32_t i = 1; i < iters; i++) {
            hmac_run(&m, u, 32, u);
            for (int j = 0; j < 32; j++) t[j] ^= u[j];
        }
        size_t n = dklen < 32 ? dklen : 32;
        memcpy(out, t, n);
        out += n;
        dklen -= n;
    }
    free(msg);
}

/* ---- The seed's workload, scaled to run in about a second serially ---- */
#define STEP 1000 /* the seed uses i * 10000 iterations */

typedef struct {
    uint8_t digest[32]; /* the last derived key of hash_one */
} result;

/* hash_one(n): for i in 1..n-1: pbkdf2_hmac("sha256", "password", "salt", i * STEP) */
static void hash_one(long n, result *r) {
    memset(r->digest, 0, sizeof r->digest);
    for (long i = 1; i < n; i++) pbkdf2_sha256("password", "salt", (uint32_t)(i * STEP), r->digest, 32);
}

/* The map function: runs in a worker process. */
static int32_t hash_one_task(const void *ctx, const void *item, void *slot) {
    (void)ctx;
    hash_one(*(const long *)item, slot);
    return 0;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(void) {
    /* RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1, 64) starts 55 ac 04 6e. */
    uint8_t dk[64];
    pbkdf2_sha256("passwd", "salt", 1, dk, sizeof dk);
    if (!(dk[0] == 0x55 && dk[1] == 0xac && dk[2] == 0x04 && dk[3] == 0x6e && dk[63] == 0x83)) {
        fprintf(stderr, "PBKDF2 self-test failed\n");
        return 1;
    }

    enum { N = 12 };
    long items[N];
    result serial[N], parallel[N];
    for (long i = 0; i < N; i++) items[i] = N;

    double t0 = now_ms();
    for (long i = 0; i < N; i++) hash_one(items[i], &serial[i]);
    double serial_ms = now_ms() - t0;
    printf("hash_all serially: %8.1f ms\n", serial_ms);

    cfut_executor *ex;
    if (cfut_process_pool_new(NULL, &ex) != CFUT_OK) { /* one worker per CPU */
        fprintf(stderr, "cfut_process_pool_new: %s\n", cfut_last_error_message());
        return 1;
    }
    cfut_map_options mo;
    cfut_map_options_init(&mo);
    mo.chunksize = 2; /* as in the seed */
    t0 = now_ms();
    cfut_map *m;
    cfut_status s = cfut_executor_map(ex, hash_one_task, NULL, 0, items, N, sizeof(long), parallel, sizeof(result), &mo, &m);
    if (s == CFUT_OK) {
        size_t bad;
        s = cfut_map_wait(m, &bad);
        cfut_map_free(m);
    }
    double par_ms = now_ms() - t0;
    if (s != CFUT_OK) {
        fprintf(stderr, "map failed: %s\n", cfut_status_name(s));
        return 1;
    }
    printf("hash_all on %u worker processes: %8.1f ms  (speed-up %.2fx)\n", cfut_executor_max_workers(ex), par_ms, serial_ms / par_ms);
    double load[1] = {0};
    if (getloadavg(load, 1) == 1 && load[0] > 1.0)
        printf("(the speed-up is bounded by idle CPUs: load average %.1f on %u CPUs)\n", load[0], cfut_executor_max_workers(ex));
    cfut_executor_free(ex);

    if (memcmp(serial, parallel, sizeof serial) != 0) {
        fprintf(stderr, "results differ between serial and process pool\n");
        return 1;
    }
    printf("digest: ");
    for (int i = 0; i < 8; i++) printf("%02x", parallel[0].digest[i]);
    printf("... (same in both runs)\n");
    return 0;
}
