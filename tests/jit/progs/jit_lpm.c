/* XDP programs for the JIT's native LPM trie lookups: looked up, updated and deleted from BPF code
 * on three tries (IPv4-sized, 3-byte and IPv6-sized data), run in the JIT and the kernel
 * (BPF_PROG_TEST_RUN), results and map contents compared.
 *
 * Packet layout (every program): byte 0 selects the trie (0: lpm4, 1: lpm3, 2: lpm16), byte 1 the
 * update flags, bytes 4..7 the key's prefixlen (little-endian), bytes 8..23 the key's data (the
 * first 4, 3 or 16 bytes are used), bytes 24..27 the value an update stores. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct route { __u32 id; __u32 hits; };
struct key4 { __u32 prefixlen; __u8 data[4]; };
struct key3 { __u32 prefixlen; __u8 data[3]; } __attribute__((packed));   /* key_size 7 */
struct key16 { __u32 prefixlen; __u8 data[16]; };

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 64);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct key4);
    __type(value, struct route);
} lpm4 SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 64);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct key3);
    __type(value, struct route);
} lpm3 SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 64);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct key16);
    __type(value, struct route);
} lpm16 SEC(".maps");

/* results[0]: matched route id (or 0xffffffff), [1]: hits after this lookup, [2]: helper result */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 3);
    __type(key, __u32);
    __type(value, __u64);
} results SEC(".maps");

static __always_inline void put(__u32 k, __u64 v)
{
    bpf_map_update_elem(&results, &k, &v, BPF_ANY);
}

/* Longest prefix lookup; a hit counts itself in the matched value (written through the pointer). */
static __always_inline int found(struct route *r)
{
    if (!r) {
        put(0, 0xffffffff);
        put(1, 0);
        return XDP_DROP;
    }
    r->hits += 1;
    put(0, r->id);
    put(1, r->hits);
    return XDP_PASS;
}

SEC("xdp")
int lpm_lookup(struct xdp_md *ctx)
{
    __u8 *b = (void *)(long)ctx->data;
    if ((void *)(b + 28) > (void *)(long)ctx->data_end)
        return XDP_ABORTED;
    __u32 plen = *(__u32 *)(b + 4);
    if (b[0] == 0) {
        struct key4 k = { plen };
        __builtin_memcpy(k.data, b + 8, sizeof(k.data));
        return found(bpf_map_lookup_elem(&lpm4, &k));
    }
    if (b[0] == 1) {
        struct key3 k = { plen };
        __builtin_memcpy(k.data, b + 8, sizeof(k.data));
        return found(bpf_map_lookup_elem(&lpm3, &k));
    }
    struct key16 k = { plen };
    __builtin_memcpy(k.data, b + 8, sizeof(k.data));
    return found(bpf_map_lookup_elem(&lpm16, &k));
}

SEC("xdp")
int lpm_update(struct xdp_md *ctx)
{
    __u8 *b = (void *)(long)ctx->data;
    if ((void *)(b + 28) > (void *)(long)ctx->data_end)
        return XDP_ABORTED;
    struct route r = { *(__u32 *)(b + 24), 0 };
    __u32 plen = *(__u32 *)(b + 4);
    __u64 flags = b[1];
    long err;
    if (b[0] == 0) {
        struct key4 k = { plen };
        __builtin_memcpy(k.data, b + 8, sizeof(k.data));
        err = bpf_map_update_elem(&lpm4, &k, &r, flags);
    } else if (b[0] == 1) {
        struct key3 k = { plen };
        __builtin_memcpy(k.data, b + 8, sizeof(k.data));
        err = bpf_map_update_elem(&lpm3, &k, &r, flags);
    } else {
        struct key16 k = { plen };
        __builtin_memcpy(k.data, b + 8, sizeof(k.data));
        err = bpf_map_update_elem(&lpm16, &k, &r, flags);
    }
    put(2, err);
    return XDP_PASS;
}

SEC("xdp")
int lpm_delete(struct xdp_md *ctx)
{
    __u8 *b = (void *)(long)ctx->data;
    if ((void *)(b + 28) > (void *)(long)ctx->data_end)
        return XDP_ABORTED;
    __u32 plen = *(__u32 *)(b + 4);
    long err;
    if (b[0] == 0) {
        struct key4 k = { plen };
        __builtin_memcpy(k.data, b + 8, sizeof(k.data));
        err = bpf_map_delete_elem(&lpm4, &k);
    } else if (b[0] == 1) {
        struct key3 k = { plen };
        __builtin_memcpy(k.data, b + 8, sizeof(k.data));
        err = bpf_map_delete_elem(&lpm3, &k);
    } else {
        struct key16 k = { plen };
        __builtin_memcpy(k.data, b + 8, sizeof(k.data));
        err = bpf_map_delete_elem(&lpm16, &k);
    }
    put(2, err);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
