#include "app.hpp"

int main(int argc, char** argv) { return pecbatch::cli::run(argc, argv); }
