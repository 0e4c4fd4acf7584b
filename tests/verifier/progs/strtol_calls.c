// bpf_strtol / bpf_strtoul: the result pointer must be 8 writable bytes (ARG_PTR_TO_FIXED_SIZE_MEM).
// Regression corpus for pybpf's verifier vs the kernel.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int parses_into_stack(struct xdp_md *xdp)
{
    char text[8] = "-42";
    long value = 0;
    unsigned long uvalue = 0;
    bpf_strtol(text, sizeof(text), 10, &value);
    bpf_strtoul(text + 1, sizeof(text) - 1, 10, &uvalue);
    return value + uvalue == 0 ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int parses_into_small_slot(struct xdp_md *xdp)
{
    char text[8] = "7";
    int small[2] = {};
    bpf_strtol(text, sizeof(text), 10, (long *)((char *)small + 4));  /* 8 bytes at fp-4 */
    return small[0] ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
