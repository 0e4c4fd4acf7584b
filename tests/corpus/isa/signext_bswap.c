/* ISA corpus: sign extension (casts, signed loads) and byte swaps of 16/32/64 bits. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

volatile __s8 b8[4];
volatile __s16 b16[4];
volatile __s32 b32[4];
volatile __u64 v64[4];
volatile __s64 out[16];

SEC("socket")
int sign_extend(void *ctx)
{
    __u64 x = v64[0];
    out[0] = b8[0];
    out[1] = b16[1];
    out[2] = b32[2];
    out[3] = (__s8)x;
    out[4] = (__s16)x;
    out[5] = (__s32)x;
    out[6] = (__s32)(__s8)(x >> 8);
    out[7] = (__s32)(__s16)(x >> 16);
    return 0;
}

SEC("socket")
int byte_swaps(void *ctx)
{
    __u64 x = v64[1];
    out[8] = __builtin_bswap16((__u16)x);
    out[9] = __builtin_bswap32((__u32)x);
    out[10] = __builtin_bswap64(x);
    out[11] = bpf_htons((__u16)v64[2]);
    out[12] = bpf_ntohl((__u32)v64[3]);
    out[13] = bpf_cpu_to_be64(x);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
