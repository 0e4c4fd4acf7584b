/* core_packet.bpf.c: a tc classifier reading a CO-RE-relocatable header straight from packet
 * data, so a relocation against a foreign BTF can be observed by BPF_PROG_TEST_RUN.
 * Returns 1 when the target BTF has no such field (the read is then dead code). */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct pybpf_pkt_hdr {
	__u32 a;
	__u32 b;
	__u32 c;
} __attribute__((preserve_access_index));

SEC("tc")
int read_hdr(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct pybpf_pkt_hdr *hdr = data;

	if ((void *)(hdr + 1) > data_end)
		return 0;
	if (!bpf_core_field_exists(hdr->b))
		return 1;
	return hdr->b;
}

char LICENSE[] SEC("license") = "GPL";
