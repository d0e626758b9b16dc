/* bbingest: Blue Button 2.0 claims ingestion daemon. */
#include "cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
