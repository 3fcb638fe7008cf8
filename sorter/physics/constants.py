"""Physical constants in SI (CODATA 2018), with the eV-based Boltzmann constant used in level energies."""

K_B_EV = 8.617333262e-5          # Boltzmann constant [eV/K]
K_B = 1.380649e-23               # Boltzmann constant [J/K]
H = 6.62607015e-34               # Planck constant [J s]
C = 299792458.0                  # speed of light [m/s]
M_E = 9.1093837015e-31           # electron mass [kg]
AMU = 1.66053906660e-27          # atomic mass unit [kg]
HC_EV_NM = 1239.841984           # h c [eV nm]
SAHA_CONSTANT = 2.4147e21        # (2 pi m_e k / h^2)^(3/2) [m^-3 K^-3/2]
