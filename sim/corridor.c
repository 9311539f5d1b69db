/*
 * corridor.c: the Northern Corridor road as the simulator drives it, the detour of the
 * deviating seal, and the restricted zone it crosses.
 *
 * Read-only static data. Waypoints follow the real highway (Mombasa - Nairobi on the
 * A109, Nairobi - Malaba on the A104, then Tororo - Jinja - Kampala - Masaka - Mbarara -
 * Kabale - Katuna - Kigali) closely enough (a few km) that straight lines between them stay
 * on land and near the road; altitudes are rounded from topographic maps. Good for a
 * realistic demo, not for navigation.
 */
#include "sim.h"

#include <string.h>

static const sim_point road[] = {
    {-4.0600, 39.6550, 10},   /* Mombasa port (Kilindini) */
    {-4.0400, 39.6480, 15},   /* Makupa causeway */
    {-4.0250, 39.6270, 30},   /* Changamwe */
    {-3.9960, 39.5900, 60},   /* Miritini */
    {-3.9680, 39.5440, 160},  /* Mazeras */
    {-3.8617, 39.4731, 200},  /* Mariakani */
    {-3.7780, 39.2800, 260},  /* Samburu */
    {-3.7470, 39.1540, 300},  /* Taru */
    {-3.7330, 39.0420, 340},  /* Mackinnon Road */
    {-3.6500, 38.9000, 420},  /* Buchuma */
    {-3.5570, 38.7470, 530},  /* Maungu */
    {-3.3961, 38.5561, 560},  /* Voi */
    {-3.3200, 38.5100, 600},  /* Ndara */
    {-3.0800, 38.4750, 640},  /* Manyani */
#define ROAD_DETOUR_AFTER 13  /* the deviator leaves the road after Manyani */
    {-2.9950, 38.4650, 480},  /* Tsavo river */
    {-2.8600, 38.3300, 620},  /* Kenani */
    {-2.6906, 38.1656, 750},  /* Mtito Andei */
    {-2.4160, 37.9650, 900},  /* Kibwezi */
    {-2.2780, 37.8250, 1000}, /* Makindu */
    {-2.2000, 37.7200, 980},  /* Kiboko */
    {-2.0833, 37.4667, 1120}, /* Emali */
    {-2.0200, 37.3700, 1250}, /* Sultan Hamud */
    {-1.8800, 37.2350, 1400}, /* Salama */
    {-1.7300, 37.1200, 1650}, /* Konza */
    {-1.4560, 36.9780, 1520}, /* Athi River */
    {-1.3900, 36.9400, 1550}, /* Mlolongo */
    {-1.3290, 36.8930, 1620}, /* Nairobi ICD (Embakasi) */
    {-1.3050, 36.8350, 1650}, /* Nairobi, Mombasa Road */
    {-1.2650, 36.8050, 1680}, /* Westlands */
    {-1.2600, 36.7450, 1850}, /* Kangemi */
    {-1.2460, 36.6630, 2000}, /* Kikuyu */
    {-1.1100, 36.6420, 2250}, /* Limuru */
    {-1.0250, 36.6250, 2400}, /* Uplands */
    {-0.8780, 36.5550, 2100}, /* Kinungi */
    {-0.7250, 36.4350, 1900}, /* Naivasha */
    {-0.4930, 36.3170, 2000}, /* Gilgil */
    {-0.4000, 36.2200, 1800}, /* Elementaita */
    {-0.3031, 36.0800, 1850}, /* Nakuru */
    {-0.2100, 35.8700, 1950}, /* Salgaa */
    {-0.1500, 35.6800, 2550}, /* Mau Summit */
    {0.0700, 35.5400, 2800},  /* Timboroa */
    {0.2200, 35.4300, 2400},  /* Burnt Forest */
    {0.5143, 35.2698, 2100},  /* Eldoret */
    {0.6350, 35.0500, 1850},  /* Turbo */
    {0.6167, 34.7667, 1500},  /* Webuye */
    {0.5635, 34.5606, 1390},  /* Bungoma */
    {0.6100, 34.4000, 1250},  /* Myanga */
    {0.6360, 34.2750, 1200},  /* Malaba border post */
    {0.6928, 34.1809, 1180},  /* Tororo */
    {0.5500, 34.0000, 1150},  /* Busitema */
    {0.5690, 33.7420, 1150},  /* Bugiri */
    {0.6090, 33.4690, 1100},  /* Iganga */
    {0.4244, 33.2042, 1140},  /* Jinja */
    {0.4300, 33.1700, 1150},  /* Njeru */
    {0.3700, 32.9400, 1170},  /* Lugazi */
    {0.3530, 32.7550, 1200},  /* Mukono */
    {0.3476, 32.5825, 1190},  /* Kampala */
    {0.2900, 32.5100, 1180},  /* Busega */
    {0.2250, 32.3130, 1200},  /* Mpigi */
    {0.0800, 32.1000, 1200},  /* Buwama */
    {-0.1500, 31.8700, 1140}, /* Lukaya */
    {-0.3381, 31.7341, 1250}, /* Masaka */
    {-0.3700, 31.4400, 1280}, /* Kyazanga */
    {-0.4030, 31.1580, 1350}, /* Lyantonde */
    {-0.4850, 30.9600, 1400}, /* Sanga */
    {-0.6072, 30.6545, 1430}, /* Mbarara */
    {-0.7500, 30.4600, 1400}, /* Mbarara - Ntungamo road */
    {-0.8800, 30.2650, 1450}, /* Ntungamo */
    {-1.0800, 30.1000, 1800}, /* Rubaya road */
    {-1.2486, 29.9899, 1850}, /* Kabale */
    {-1.4330, 30.0140, 1950}, /* Katuna / Gatuna border post */
    {-1.5780, 30.0670, 2200}, /* Gicumbi (Byumba) */
    {-1.7500, 30.0900, 1800}, /* Rulindo */
    {-1.8800, 30.0800, 1500}, /* Nyacyonga */
    {-1.9441, 30.0619, 1560}, /* Kigali */
};
#define ROAD_N ((int)(sizeof road / sizeof road[0]))

/* Off the highway east into the park, through the middle of the zone, and back. */
static const sim_point detour[] = {
    {-3.0500, 38.5300, 620},
    {-3.0000, 38.6000, 600}, /* centre of the restricted zone */
    {-2.9700, 38.5600, 560},
};
#define DETOUR_N ((int)(sizeof detour / sizeof detour[0]))

/* Tsavo East lies east of the Mombasa - Nairobi highway; the zone's western edge is about
 * 7 km from the road, so only a seal that leaves the road enters it. */
static const sim_zone restricted = {
    "Tsavo East National Park (restricted)", "restricted", "KE", -3.0000, 38.6000, 8000,
};

const sim_point *sim_corridor_road(int *n)
{
    *n = ROAD_N;
    return road;
}

int sim_corridor_deviation(sim_point *out, int max)
{
    int n = ROAD_N + DETOUR_N;
    if (max < n)
        return CORE_ETOOBIG;
    memcpy(out, road, sizeof road[0] * (ROAD_DETOUR_AFTER + 1));
    memcpy(out + ROAD_DETOUR_AFTER + 1, detour, sizeof detour);
    memcpy(out + ROAD_DETOUR_AFTER + 1 + DETOUR_N, road + ROAD_DETOUR_AFTER + 1,
           sizeof road[0] * (size_t)(ROAD_N - ROAD_DETOUR_AFTER - 1));
    return n;
}

const sim_zone *sim_corridor_restricted(void)
{
    return &restricted;
}
