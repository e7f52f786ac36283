#include "commands.h"

int main(int argc, char** argv) { return idemctl::Main(argc, argv); }
