/*
 * fuzz_conf: the config parser; anything accepted must dump to text that
 * parses again to the same dump.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	conf *c = conf_parse("/etc/hutong/hutongd.conf", (const char *)data,
			     size, NULL, NULL);
	if (c == NULL)
		return 0;
	char *dump = conf_dump(c);
	if (dump != NULL) {
		conf *again = conf_parse("/etc/hutong/hutongd.conf", dump,
					 strlen(dump), NULL, NULL);
		char *dump2 = again ? conf_dump(again) : NULL;
		if (dump2 == NULL || strcmp(dump, dump2) != 0)
			abort();
		free(dump2);
		conf_free(&again);
	}
	free(dump);
	conf_free(&c);
	return 0;
}
