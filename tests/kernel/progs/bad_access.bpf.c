// An XDP program the kernel verifier must reject: it reads packet bytes without a bounds check.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int unchecked_read(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;

	if (ctx->ingress_ifindex == 12345)
		return XDP_DROP;
	return data[14] + 1; /* BAD LINE: no check against data_end */
}

char LICENSE[] SEC("license") = "GPL";
