/*
 * test_region: the GB/T 2260 table compiled from data/regions.tsv.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "region.h"

int main(void)
{
	CHECK(region_table_len > 3000);
	for (size_t i = 1; i < region_table_len; i++)
		CHECK(strcmp(region_table[i - 1].code, region_table[i].code) <
		      0);
	CHECK(region_known("320100"));
	CHECK(region_known("110000"));
	CHECK(region_known("441900")); /* listed as city and county */
	CHECK_STR(region_name("320100"), "南京市");
	CHECK_STR(region_name("610100"), "西安市");
	CHECK_STR(region_name("450600"), "防城港市");
	CHECK(!region_known("999999"));
	CHECK(region_name("999999") == NULL);
	CHECK(!region_known("32010") && !region_known("3201000"));
	CHECK(!region_known("") && !region_known(NULL));
	CHECK(region_province_known("320102198001011238"));
	CHECK(region_province_known("32"));
	CHECK(!region_province_known("990101"));
	CHECK(!region_province_known("3"));
	return check_done("test_region");
}
