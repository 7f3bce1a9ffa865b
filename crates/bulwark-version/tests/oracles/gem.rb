# Reads "a<TAB>b" lines, prints Gem::Version.new(a) <=> Gem::Version.new(b),
# or E when either is malformed.
require 'rubygems'
out = []
STDIN.each_line do |line|
  a, b = line.chomp("\n").split("\t", -1)
  begin
    out << (Gem::Version.new(a) <=> Gem::Version.new(b)).to_s
  rescue ArgumentError
    out << 'E'
  end
end
puts out.join("\n")
